--[[
  Forget a user in a partition's pending-users index, unless a turn was accepted for them since the
  sweep read their mark: accepting bumps the mark before the turn exists, so a sweep that found
  nothing pending and still sees the mark it read cannot drop a user whose turn is on its way.

  KEYS[1] pending-users  sorted set userId -> mark
  ARGV[1] userId
  ARGV[2] the mark the sweep read
  Returns 1 when forgotten, 0 when the mark changed (or the user is not there)
]]
if redis.call('ZSCORE', KEYS[1], ARGV[1]) == ARGV[2] then
  redis.call('ZREM', KEYS[1], ARGV[1])
  return 1
end
return 0
