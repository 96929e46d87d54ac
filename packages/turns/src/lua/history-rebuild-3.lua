--[[
  Rebuild a user's history from the durable transcript (their hot state expired, or Redis lost it),
  atomically with the gate: only while this delivery holds the user's lease, and unless a turn has
  written a history meanwhile. Returns the history as the turn sees it either way.

  KEYS[1] history
  KEYS[2] history-meta
  KEYS[3] lease
  ARGV[1] token    the lease holder rebuilding it
  ARGV[2] lastSeq of the rebuilt history
  ARGV[3] tokens in it
  ARGV[4] summary ('' when none)
  ARGV[5] seq the summary covers up to (0 when none)
  ARGV[6..] message JSON, oldest first
  Returns {code, history as [json, ...], history meta as [field, value, ...]}
    code 1 rebuilt, 0 a history was already there, -1 the lease is not this delivery's (nothing written)
]]
if redis.call('GET', KEYS[3]) ~= ARGV[1] then
  return {-1}
end
local code = 0
if redis.call('EXISTS', KEYS[2]) == 0 and redis.call('LLEN', KEYS[1]) == 0 then
  for i = 6, #ARGV do
    redis.call('RPUSH', KEYS[1], ARGV[i])
  end
  redis.call('HSET', KEYS[2], 'lastSeq', ARGV[2], 'tokens', ARGV[3])
  if ARGV[4] ~= '' then
    redis.call('HSET', KEYS[2], 'summary', ARGV[4], 'summaryUpTo', ARGV[5])
  end
  code = 1
end
return {code, redis.call('LRANGE', KEYS[1], 0, -1), redis.call('HGETALL', KEYS[2])}
