--[[
  Priorities are start tags above a base, and BullMQ's priorities end at 2^21: once the virtual
  time has run far past the base, the base moves up to it (and the jobs queued are given their
  priorities again above the new base, by the caller). Idle tenants' finish tags, now behind the
  virtual time, are dropped, with what was learned of their turns (o:<tenant>; the partition's
  average stands in for it).

  KEYS[1] fair  the partition's fair-queue hash (see fair-tag-1.lua)
  ARGV[1] the base the caller read (the move happens only if nobody moved it since)
  Returns the new base (string), or false when it had moved already
]]
local base = redis.call('HGET', KEYS[1], 'base') or '0'
if base ~= ARGV[1] then
  return false
end
local v = redis.call('HGET', KEYS[1], 'v') or '0'
redis.call('HSET', KEYS[1], 'base', v)
local fields = redis.call('HGETALL', KEYS[1])
for i = 1, #fields, 2 do
  if string.sub(fields[i], 1, 2) == 'f:' and tonumber(fields[i + 1]) < tonumber(v) then
    redis.call('HDEL', KEYS[1], fields[i], 'o:' .. string.sub(fields[i], 3))
  end
end
return v
