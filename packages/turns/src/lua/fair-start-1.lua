--[[
  A turn with start tag `start` begins running in the partition: the virtual time becomes the
  latest start tag seen (start-time fair queueing's clock for several servers at once).

  KEYS[1] fair  the partition's fair-queue hash (see fair-tag-1.lua)
  ARGV[1] start tag of the turn
  Returns {virtual time (string), base (string)}
]]
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local start = tonumber(ARGV[1])
if start > v then
  v = start
  redis.call('HSET', KEYS[1], 'v', tostring(v))
end
return {tostring(v), redis.call('HGET', KEYS[1], 'base') or '0'}
