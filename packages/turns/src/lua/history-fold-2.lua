--[[
  Fold the oldest turns of a history into its rolling summary: drop the first `count` messages and
  store the new summary, but only if those messages are still the ones the summary was written
  from (their seqs run from ARGV[1] to ARGV[2]); otherwise change nothing. Nothing is folded into
  a history whose hot state expired meanwhile (the durable summary is rebuilt from Postgres), and
  the writes keep the keys' TTL.

  KEYS[1] history
  KEYS[2] history-meta
  ARGV[1] seq of the first message folded
  ARGV[2] seq of the last message folded (the summary now covers up to here)
  ARGV[3] count of messages folded
  ARGV[4] tokens of the folded messages
  ARGV[5] the new summary
  Returns tokens left in the history, or -1 when the history changed and nothing was folded
]]
if redis.call('EXISTS', KEYS[2]) == 0 then
  return -1
end
local count = tonumber(ARGV[3])
local items = redis.call('LRANGE', KEYS[1], 0, count - 1)
if #items ~= count then
  return -1
end
local first = cjson.decode(items[1])
local last = cjson.decode(items[count])
if tonumber(first['seq']) ~= tonumber(ARGV[1]) or tonumber(last['seq']) ~= tonumber(ARGV[2]) then
  return -1
end
redis.call('LTRIM', KEYS[1], count, -1)
redis.call('HSET', KEYS[2], 'summary', ARGV[5], 'summaryUpTo', ARGV[2])
return redis.call('HINCRBY', KEYS[2], 'tokens', -tonumber(ARGV[4]))
