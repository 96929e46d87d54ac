--[[
  Save part of a running turn's checkpoint (one step, and whatever the turn decided before it),
  kept for a day at most. One call per step, however many fields it writes.

  KEYS[1] scratchpad   the turn's checkpoint hash
  ARGV[1] TTL in seconds
  ARGV[2..] field, value, field, value, ...
  Returns 1
]]
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('EXPIRE', KEYS[1], ARGV[1])
return 1
