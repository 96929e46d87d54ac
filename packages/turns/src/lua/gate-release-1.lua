--[[
  Give the turn lease back without finishing the turn (the attempt failed and will be retried,
  or the worker is shutting down), so the next delivery need not wait for it to expire.

  KEYS[1] lease
  ARGV[1] token
  Returns 1 when released, 0 when it was not ours
]]
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
