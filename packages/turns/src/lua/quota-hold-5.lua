--[[
  Before a model call: if the holder's budgets have room beyond what calls in flight hold, hold
  `tokens` of them for the call (settled to its real usage by quota-settle-6.lua, or lapsing at
  `expireAt`), atomically, so calls running at once cannot all pass a budget that has room for one
  of them. A budget used up refuses the call; one taken by holds only asks it to wait. The tenant's
  call also returns what its users fall back to.

  KEYS[1] limits     the holder's limits hash (a tenant's also has userDay, userMonth, weight, soft)
  KEYS[2] used-day   tokens used in the current day
  KEYS[3] used-month tokens used in the current month
  KEYS[4] held       hash hold id -> tokens, `_total`
  KEYS[5] held-expiry sorted set hold id -> epoch ms
  ARGV[1] hold id (unique per call)
  ARGV[2] tokens to hold
  ARGV[3] when the hold lapses (epoch ms)
  ARGV[4] now (epoch ms)
  ARGV[5] fallback day limit ('' none)
  ARGV[6] fallback month limit ('' none)
  Returns {1, userDay, userMonth, softThreshold, weight} (each '' when the holder has none) when held,
          {0, window, used, limit, 'used'} when a budget is used up,
          {0, window, used, limit, 'held'} when calls in flight hold what is left (try again soon);
          nothing is held either way
]]
--- @include "quota-check"

local refusal = quotaRefusal(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[4], ARGV[5], ARGV[6], true)
if refusal then
  return {0, refusal[1], refusal[2], refusal[3], refusal[4]}
end
local tokens = tonumber(ARGV[2])
if tokens > 0 then
  redis.call('HSET', KEYS[4], ARGV[1], tokens)
  redis.call('HINCRBY', KEYS[4], '_total', tokens)
  redis.call('ZADD', KEYS[5], ARGV[3], ARGV[1])
end
local p = redis.call('HMGET', KEYS[1], 'userDay', 'userMonth', 'soft', 'weight')
return {1, p[1] or '', p[2] or '', p[3] or '', p[4] or ''}
