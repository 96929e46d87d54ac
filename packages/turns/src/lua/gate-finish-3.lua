--[[
  Finish turn `seq` (completed, or finally failed and recorded as such): advance `done`, free the
  lease, forget the payload, and return the payload of the next turn so it can be woken up.

  KEYS[1] done
  KEYS[2] lease
  KEYS[3] pending
  ARGV[1] seq
  ARGV[2] token      the lease holder; '' finishes only while nobody holds the lease
  Returns {code, next payload JSON or nil}
    code 1 finished
    code 0 already finished before (a duplicate finish; nothing changed)
   code -1 an earlier turn is not finished: protocol violation
   code -2 another delivery holds the lease
]]
local seq = tonumber(ARGV[1])
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq <= done then
  return {0, false}
end
if seq ~= done + 1 then
  return {-1, false}
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  return {-2, false}
end
redis.call('SET', KEYS[1], seq)
redis.call('DEL', KEYS[2])
redis.call('HDEL', KEYS[3], seq)
return {1, redis.call('HGET', KEYS[3], seq + 1)}
