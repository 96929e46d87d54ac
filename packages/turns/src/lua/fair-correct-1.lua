--[[
  A turn finished: move its tenant's finish tag by (real tokens - estimate) / weight, so what the
  tenant is charged in the fair queue is what it used, from its next enqueued turn on. A tag left
  behind the virtual time needs no clamp: the next turn's start tag is the later of the two
  (fair-tag-1.lua), so a tenant cannot bank credit while idle.

  It also learns what a turn uses beyond its prompt (ARGV[3]), for the estimates of the next turns
  (fair-tag-1.lua): a moving average per tenant and one for the partition, each sample weighing
  ARGV[4]; the first sample is taken as it is.

  KEYS[1] fair  the partition's fair-queue hash (see fair-tag-1.lua)
  ARGV[1] tenant
  ARGV[2] correction in weighted tokens (may be negative)
  ARGV[3] the turn's real tokens minus its prompt tokens, or '' when the job does not say its prompt
  ARGV[4] the weight of a sample in the moving averages (0..1)
  Returns the tenant's finish tag (string)
]]
local field = 'f:' .. ARGV[1]
local finish = tonumber(redis.call('HGET', KEYS[1], field) or '0') + tonumber(ARGV[2])
redis.call('HSET', KEYS[1], field, tostring(finish))
if ARGV[3] ~= '' then
  local sample = math.max(0, tonumber(ARGV[3]))
  local alpha = tonumber(ARGV[4])
  for _, name in ipairs({'o:' .. ARGV[1], 'o'}) do
    local old = tonumber(redis.call('HGET', KEYS[1], name) or '')
    local new = sample
    if old then
      new = old + alpha * (sample - old)
    end
    redis.call('HSET', KEYS[1], name, tostring(new))
  end
end
return tostring(finish)
