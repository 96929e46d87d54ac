--[[
  Whether the holder's budgets have room (none used up; holds of calls in flight do not count, as
  accepting a message consumes nothing), holding nothing: the tenant's part of accepting a message
  (the user's part runs inside accept-turn-13.lua, atomically with its seq).
  Also returns what the tenant's users fall back to and its weight in the fair queues.

  KEYS[1] limits, KEYS[2] used-day, KEYS[3] used-month, KEYS[4] held, KEYS[5] held-expiry
    (as quota-hold-5.lua)
  ARGV[1] now (epoch ms)
  Returns {1, userDay, userMonth, softThreshold, weight} ('' for each the holder has none of), or
          {0, window, used, limit}
]]
--- @include "quota-check"

local refusal = quotaRefusal(KEYS[1], KEYS[2], KEYS[3], KEYS[4], KEYS[5], ARGV[1], '', '', false)
if refusal then
  return {0, refusal[1], refusal[2], refusal[3]}
end
local p = redis.call('HMGET', KEYS[1], 'userDay', 'userMonth', 'soft', 'weight')
return {1, p[1] or '', p[2] or '', p[3] or '', p[4] or ''}
