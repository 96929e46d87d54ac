--[[
  Append a finished turn's messages to the user's history exactly once, then trim the oldest
  messages until the history fits its budget (always keeping the newest turn).

  KEYS[1] history        list of message JSON, oldest first
  KEYS[2] history-meta   hash: lastSeq = seq of the last turn appended
  ARGV[1] seq of the turn
  ARGV[2] budget in characters
  ARGV[3..] message JSON, in order
  Returns 1 when appended, 0 when this turn (or a later one) was already there
]]
local seq = tonumber(ARGV[1])
local last = tonumber(redis.call('HGET', KEYS[2], 'lastSeq') or '0')
if seq <= last then
  return 0
end
for i = 3, #ARGV do
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('HSET', KEYS[2], 'lastSeq', seq)
local budget = tonumber(ARGV[2])
local items = redis.call('LRANGE', KEYS[1], 0, -1)
local total = 0
local keep = 0
local newest = #ARGV - 2
for i = #items, 1, -1 do
  total = total + string.len(items[i])
  if total > budget and keep >= newest then
    break
  end
  keep = keep + 1
end
if keep < #items then
  redis.call('LTRIM', KEYS[1], #items - keep, -1)
end
return 1
