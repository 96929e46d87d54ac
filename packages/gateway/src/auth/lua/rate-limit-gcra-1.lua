--[[
  Take from a rate limit by GCRA (generic cell rate algorithm). One key holds the theoretical
  arrival time (TAT) of the next request in ms, so a limit costs one GET and one SET, and the key
  expires as soon as the bucket is full again. Up to `burst` requests pass at once, then one every
  `interval` ms. The time is Redis' own (TIME), so gateways with skewed clocks share one limit.

  KEYS[1] limiter key (TAT in ms)
  ARGV[1] interval: ms between two requests at the sustained rate (1000 / rate per second)
  ARGV[2] burst: requests that may pass at once (>= 1)
  ARGV[3] cost: how many requests this one counts for (>= 1); negative gives that many back (a
          refund of requests that turned out not to count, never more than a full bucket)
  Returns {allowed (1 | 0), ms to wait before trying again (0 when allowed), requests left in the burst}
]]
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local interval = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local tat = tonumber(redis.call('GET', KEYS[1]) or '0')
if tat < now then
  tat = now
end
local newTat = tat + interval * cost
local allowAt = newTat - burst * interval
if cost < 0 then
  if newTat <= now then
    redis.call('DEL', KEYS[1])
    return {1, 0, burst}
  end
  redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.ceil(newTat - now))
  return {1, 0, math.floor((now - allowAt) / interval)}
end
if allowAt > now then
  return {0, math.ceil(allowAt - now), 0}
end
redis.call('SET', KEYS[1], string.format('%.3f', newTat), 'PX', math.ceil(newTat - now))
return {1, 0, math.floor((now - allowAt) / interval)}
