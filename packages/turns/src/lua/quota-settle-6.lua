--[[
  After a call: release its hold, count the tokens it really used in the holder's day and month,
  and (for a user) add its usage to the turn record, atomically, so the record and the budget never
  disagree. Settling a hold that lapsed counts the tokens all the same: they were used.

  KEYS[1] limits, KEYS[2] used-day, KEYS[3] used-month, KEYS[4] held, KEYS[5] held-expiry
    (as quota-hold-5.lua)
  KEYS[6] record     the turn's record (a user's call of a turn), or any key of the slot when none
  ARGV[1] hold id ('' when the call held nothing, e.g. an embeddings request)
  ARGV[2] tokens used (prompt + completion)
  ARGV[3] TTL of the day counter (s)
  ARGV[4] TTL of the month counter (s)
  ARGV[5] fallback day limit, ARGV[6] fallback month limit ('' none)
  ARGV[7..] record fields and increments, in pairs (none when there is no record)
  Returns {used today, used this month, day limit or -1, month limit or -1}
]]
--- @include "quota-check"

if ARGV[1] ~= '' then
  local tokens = redis.call('HGET', KEYS[4], ARGV[1])
  if tokens then
    redis.call('HDEL', KEYS[4], ARGV[1])
    redis.call('HINCRBY', KEYS[4], '_total', -tonumber(tokens))
    redis.call('ZREM', KEYS[5], ARGV[1])
  end
end
local used = tonumber(ARGV[2])
local day = redis.call('INCRBY', KEYS[2], used)
redis.call('EXPIRE', KEYS[2], ARGV[3])
local month = redis.call('INCRBY', KEYS[3], used)
redis.call('EXPIRE', KEYS[3], ARGV[4])
for i = 7, #ARGV, 2 do
  redis.call('HINCRBY', KEYS[6], ARGV[i], ARGV[i + 1])
end
return {day, month, limitOf(KEYS[1], 'day', ARGV[5]) or -1, limitOf(KEYS[1], 'month', ARGV[6]) or -1}
