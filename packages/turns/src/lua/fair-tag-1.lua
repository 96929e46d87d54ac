--[[
  Start-time fair queueing across tenants, one partition: tag a turn as it is enqueued. Its start
  tag is the later of the partition's virtual time and the tenant's last finish tag; the tenant's
  finish tag moves on by the turn's estimated tokens divided by the tenant's weight. Jobs run in
  start-tag order (the BullMQ priority is the start tag above the partition's base, in quanta), so
  a tenant that queued a burst has its later turns tagged far ahead while a tenant that just
  arrived starts at the virtual time: it waits behind no burst. Virtual time only moves when a
  turn starts (fair-start-1.lua): capacity nobody else wants goes to whoever queued.

  The estimate is the turn's prompt (message and history) plus what a turn of the tenant used
  beyond its prompt (system prompt, retrieved text, answer) as fair-correct-1.lua learns it: the
  tenant's average, else the partition's, else ARGV[6]. A burst is tagged all at once, before any
  of its turns ran, so an estimate far from the real usage would space its tags by the estimate
  while later turns are spaced by what they use.

  KEYS[1] fair     the partition's fair-queue hash: v (virtual time), base (priority 1's tag),
                   f:<tenant> (finish tags), o:<tenant> and o (tokens a turn uses beyond its prompt,
                   learned per tenant and for the partition)
  ARGV[1] tenant
  ARGV[2] the turn's prompt tokens (message and history)
  ARGV[3] the tenant's weight (> 0)
  ARGV[4] tokens per priority step (quantum)
  ARGV[5] the largest priority to give
  ARGV[6] tokens a turn uses beyond its prompt when nothing was learned yet
  Returns {start tag (string), priority (1..ARGV[5]), estimated tokens (string)}
]]
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local base = tonumber(redis.call('HGET', KEYS[1], 'base') or '0')
local field = 'f:' .. ARGV[1]
local finish = tonumber(redis.call('HGET', KEYS[1], field) or '0')
local overhead = tonumber(redis.call('HGET', KEYS[1], 'o:' .. ARGV[1]) or redis.call('HGET', KEYS[1], 'o') or ARGV[6])
local cost = tonumber(ARGV[2]) + math.max(0, math.floor(overhead + 0.5))
local start = math.max(v, finish)
redis.call('HSET', KEYS[1], field, tostring(start + cost / tonumber(ARGV[3])))
local priority = 1 + math.floor((start - base) / tonumber(ARGV[4]))
if priority < 1 then
  priority = 1
end
if priority > tonumber(ARGV[5]) then
  priority = tonumber(ARGV[5])
end
return {tostring(start), priority, tostring(cost)}
