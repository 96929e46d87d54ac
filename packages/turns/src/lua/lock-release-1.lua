--[[
  Release a lock (or a turn lease) taken with SET key token NX PX, only if it is still ours (it may have expired and
  been taken by another process meanwhile).

  KEYS[1] lock
  ARGV[1] token
  Returns 1 when released, 0 when it was not ours
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
