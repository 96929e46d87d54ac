--[[
  The per-user turn gate: may this delivery of turn `seq` run now?

  KEYS[1] done       last finished sequence number of the user (missing = 0)
  KEYS[2] lease      which delivery runs the user's current turn (expires unless renewed)
  ARGV[1] seq        the turn's sequence number
  ARGV[2] token      this delivery's token
  ARGV[3] lease TTL in milliseconds
  Returns {code, done, pttl}
    code 1 acquired: seq is next and the lease is now ours
    code 0 duplicate: seq is already finished; skip it
    code 2 park: an earlier turn of this user is not finished yet
    code 3 busy: seq is next but another delivery holds the lease (pttl ms left)
]]
local seq = tonumber(ARGV[1])
local done = tonumber(redis.call('GET', KEYS[1]) or '0')
if seq <= done then
  return {0, done, 0}
end
if seq > done + 1 then
  return {2, done, 0}
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  return {3, done, redis.call('PTTL', KEYS[2])}
end
redis.call('SET', KEYS[2], ARGV[2], 'PX', ARGV[3])
return {1, done, 0}
