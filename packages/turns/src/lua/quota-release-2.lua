--[[
  A call that held tokens was refused elsewhere or never made (e.g. the tenant held, then the
  user's budget refused): give the hold back.

  KEYS[1] held        hash hold id -> tokens, `_total`
  KEYS[2] held-expiry sorted set hold id -> epoch ms
  ARGV[1] hold id
  Returns 1 when a hold was released, 0 when there was none (settled or lapsed already)
]]
local tokens = redis.call('HGET', KEYS[1], ARGV[1])
if not tokens then
  return 0
end
redis.call('HDEL', KEYS[1], ARGV[1])
redis.call('HINCRBY', KEYS[1], '_total', -tonumber(tokens))
redis.call('ZREM', KEYS[2], ARGV[1])
return 1
