--[[
  Read the gate of a user without changing it: what is finished, what should run next, and who
  holds the lease. Used to repair a stuck predecessor.

  KEYS[1] done
  KEYS[2] lease
  KEYS[3] pending
  Returns {done, payload JSON of turn done+1 or nil, lease holder or nil}
]]
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
return {done, redis.call('HGET', KEYS[3], done + 1), redis.call('GET', KEYS[2])}
