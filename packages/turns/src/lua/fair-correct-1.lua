--[[
  A turn finished: move its tenant's finish tag by (real tokens - estimate) / weight, so what the
  tenant is charged in the fair queue is what it used, from its next enqueued turn on. A tag never
  goes below the virtual time (a tenant cannot bank credit while idle).

  KEYS[1] fair  the partition's fair-queue hash (see fair-tag-1.lua)
  ARGV[1] tenant
  ARGV[2] correction in weighted tokens (may be negative)
  Returns the tenant's finish tag (string)
]]
local field = 'f:' .. ARGV[1]
local v = tonumber(redis.call('HGET', KEYS[1], 'v') or '0')
local finish = tonumber(redis.call('HGET', KEYS[1], field) or '0') + tonumber(ARGV[2])
if finish < v then
  finish = v
end
redis.call('HSET', KEYS[1], field, tostring(finish))
return tostring(finish)
