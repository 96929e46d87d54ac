--[[
  Put back a history Redis lost (flush, failover), from the durable transcript, unless a turn has
  written one meanwhile.

  KEYS[1] history
  KEYS[2] history-meta
  ARGV[1] lastSeq of the rebuilt history
  ARGV[2] tokens in it
  ARGV[3] summary ('' when none)
  ARGV[4] seq the summary covers up to (0 when none)
  ARGV[5..] message JSON, oldest first
  Returns 1 when rebuilt, 0 when a history was already there
]]
if redis.call('EXISTS', KEYS[2]) == 1 or redis.call('LLEN', KEYS[1]) > 0 then
  return 0
end
for i = 5, #ARGV do
  redis.call('RPUSH', KEYS[1], ARGV[i])
end
redis.call('HSET', KEYS[2], 'lastSeq', ARGV[1], 'tokens', ARGV[2])
if ARGV[3] ~= '' then
  redis.call('HSET', KEYS[2], 'summary', ARGV[3], 'summaryUpTo', ARGV[4])
end
return 1
