--[[
  The budget rule, shared by every script that checks a budget holder (a tenant or a user). A
  holder's keys, all in its own slot: its limits (a hash with `day` and `month`: tokens, or '' for
  no limit; a missing field takes the caller's fallback), a counter of tokens used per window, the
  tokens its model calls in flight hold (a hash id -> tokens with the sum in `_total`), and when
  each hold lapses (a sorted set id -> epoch ms: a hold whose worker died never blocks for long).
  A budget is used up when used >= limit: a message is refused then (accepting consumes nothing).
  A model call also waits while used + held >= limit (calls in flight hold the rest): it is
  refused only once the budget is used up, and goes on when the holds settle below the limit.
]]
local function dropLapsedHolds(heldKey, expiryKey, now)
  local lapsed = redis.call('ZRANGEBYSCORE', expiryKey, '-inf', now, 'LIMIT', 0, 100)
  for _, id in ipairs(lapsed) do
    local tokens = tonumber(redis.call('HGET', heldKey, id) or '0')
    redis.call('HDEL', heldKey, id)
    redis.call('HINCRBY', heldKey, '_total', -tokens)
    redis.call('ZREM', expiryKey, id)
  end
end

-- The limit of `field`: the holder's own, else `fallback`; nil when there is none.
local function limitOf(limitsKey, field, fallback)
  local v = redis.call('HGET', limitsKey, field)
  if not v then v = fallback end
  if v == nil or v == '' then return nil end
  return tonumber(v)
end

-- nil when every budget has room, else {window, used, limit, 'used' | 'held'} of the first budget
-- that is used up ('used') or, with `countHeld`, taken by the holds of calls in flight ('held').
local function quotaRefusal(limitsKey, usedDayKey, usedMonthKey, heldKey, expiryKey, now, fallbackDay, fallbackMonth, countHeld)
  dropLapsedHolds(heldKey, expiryKey, now)
  local held = 0
  if countHeld then
    held = tonumber(redis.call('HGET', heldKey, '_total') or '0')
  end
  local windows = {{'day', usedDayKey, fallbackDay}, {'month', usedMonthKey, fallbackMonth}}
  local busy = nil
  for _, w in ipairs(windows) do
    local limit = limitOf(limitsKey, w[1], w[3])
    if limit then
      local used = tonumber(redis.call('GET', w[2]) or '0')
      if used >= limit then
        return {w[1], used, limit, 'used'}
      end
      if busy == nil and used + held >= limit then
        busy = {w[1], used, limit, 'held'}
      end
    end
  end
  return busy
end
