--[[
  The per-user turn gate, and the start of a turn that passes it: may this delivery of turn `seq`
  run now? If so, take the lease, mark the turn running and return what the turn needs to resume
  (its scratchpad) and to prompt (the user's history), all in one round trip. A user whose hot
  state expired has no `done`: a delivery of a turn that is not pending either is a stale one of a
  turn finished before the state expired (a pending turn keeps the state alive), so it is a
  duplicate; the history of a user whose state expired is rebuilt from Postgres under the lease
  (history-rebuild-3.lua).

  KEYS[1] done       last finished sequence number of the user (missing = 0)
  KEYS[2] lease      which delivery runs the user's current turn (expires unless renewed)
  KEYS[3] history    the user's history list
  KEYS[4] scratchpad this turn's checkpoint hash
  KEYS[5] record     this turn's record hash
  KEYS[6] history-meta  lastSeq, tokens, summary, summaryUpTo
  KEYS[7] pending    hash seq -> payload of the user's turns not finished yet
  ARGV[1] seq
  ARGV[2] token      this delivery's token
  ARGV[3] lease TTL in milliseconds
  ARGV[4] now (ms)
  ARGV[5] turn record TTL in seconds
  Returns {code, done, pttl, scratchpad as [field, value, ...], history as [json, ...],
           history meta as [field, value, ...] (lastSeq, tokens, summary, summaryUpTo)}
    code 1 acquired: seq is next and the lease is now ours
    code 0 duplicate: seq is already finished; skip it
    code 2 park: an earlier turn of this user is not finished yet
    code 3 busy: seq is next but another delivery holds the lease (pttl ms left)
]]
local seq = tonumber(ARGV[1])
local doneText = redis.call('GET', KEYS[1])
if not doneText and redis.call('HEXISTS', KEYS[7], seq) == 0 then
  return {0, 0, 0}
end
local done = tonumber(doneText or '0')
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
local status = redis.call('HGET', KEYS[5], 'status')
if not status or status == 'queued' or status == 'running' then
  redis.call('HSET', KEYS[5], 'status', 'running', 'startedAt', ARGV[4])
  redis.call('HINCRBY', KEYS[5], 'attempts', 1)
  redis.call('EXPIRE', KEYS[5], ARGV[5])
end
return {
  1, done, 0,
  redis.call('HGETALL', KEYS[4]),
  redis.call('LRANGE', KEYS[3], 0, -1),
  redis.call('HGETALL', KEYS[6]),
}
