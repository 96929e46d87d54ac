--[[
  Save one step checkpoint of a running turn, kept for a day at most.

  KEYS[1] scratchpad   the turn's checkpoint hash
  ARGV[1] field
  ARGV[2] value
  ARGV[3] TTL in seconds
  Returns 1
]]
redis.call('HSET', KEYS[1], ARGV[1], ARGV[2])
redis.call('EXPIRE', KEYS[1], ARGV[3])
return 1
