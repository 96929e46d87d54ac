--[[
  Extend the turn lease while the turn runs.

  KEYS[1] lease
  ARGV[1] token      this delivery's token
  ARGV[2] lease TTL in milliseconds
  Returns 1 when renewed, 0 when the lease is no longer ours
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
return 0
