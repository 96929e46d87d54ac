--[[
  Hold a lease: renew it when it is ours, take it when it is free.

  KEYS[1] lease
  ARGV[1] token
  ARGV[2] ttl in ms
  Returns 1 when it was ours and is renewed, 2 when it was free and is now ours, 0 when another
  process holds it
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then
  return 2
end
return 0
