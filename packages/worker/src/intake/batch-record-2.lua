--[[
  Record the intake consumer's next batch, in arrival order, before any of it is accepted: the job
  it has just taken, then the jobs at the head of the queue's wait list that it is about to take
  (only the lease holder takes intake jobs, so these are the ones it gets). On a takeover, the jobs
  of the previous holder's batch come first, in the order that holder recorded: BullMQ's stalled
  check returned them to wait in no particular order.

  KEYS[1] the intake queue's wait list (BullMQ: jobs are added at the left, taken from the right)
  KEYS[2] the batch list
  ARGV[1] the id of the job just taken
  ARGV[2] how many more jobs to take at most
  ARGV[3] '1' on a takeover: keep the previous batch's order
  Returns the batch's job ids in arrival order
]]
local taken = { ARGV[1] }
local more = tonumber(ARGV[2])
if more > 0 then
  local head = redis.call('LRANGE', KEYS[1], -more, -1)
  for i = #head, 1, -1 do
    taken[#taken + 1] = head[i]
  end
end

local order = taken
if ARGV[3] == '1' then
  local inBatch = {}
  for _, id in ipairs(taken) do
    inBatch[id] = true
  end
  order = {}
  local placed = {}
  for _, id in ipairs(redis.call('LRANGE', KEYS[2], 0, -1)) do
    if inBatch[id] and not placed[id] then
      order[#order + 1] = id
      placed[id] = true
    end
  end
  for _, id in ipairs(taken) do
    if not placed[id] then
      order[#order + 1] = id
    end
  end
end

redis.call('DEL', KEYS[2])
redis.call('RPUSH', KEYS[2], unpack(order))
return order
