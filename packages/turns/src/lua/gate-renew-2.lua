--[[
  Extend the turn lease while the turn runs. A lease that expired while nobody else took it (Redis
  was away longer than the lease, or the worker stalled) is taken again, provided the turn is still
  the user's next one: the delivery holding it goes on instead of giving up work nobody else does.

  KEYS[1] lease
  KEYS[2] done       last finished sequence number of the user (missing = 0)
  ARGV[1] token      this delivery's token
  ARGV[2] lease TTL in milliseconds
  ARGV[3] seq        the turn this delivery runs
  Returns 1 when renewed (or taken again), 0 when the lease is another delivery's or the turn is finished
]]
local holder = redis.call('GET', KEYS[1])
if holder == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if holder then
  return 0
end
local done = tonumber(redis.call('GET', KEYS[2]) or '0')
if done + 1 ~= tonumber(ARGV[3]) then
  return 0
end
redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[2])
return 1
