--[[
  Finish turn `seq`, atomically: append its messages to the history exactly once (the worker folds
  old turns into the summary when the history outgrows its budget), give the turn record its final status, advance `done`,
  free the lease, forget the payload and the scratchpad, and return the payload of the user's next
  turn so it can be woken up. A failed turn is finished the same way without touching history.
  Once nothing of the user is pending, their hot state (numbering, history, summary, interrupt
  mark) gets HOT_STATE_TTL: it leaves Redis unless a turn is accepted before, which keeps it
  (accept-turn-13.lua). A turn that is not pending in a user without `done` was finished before
  the state expired: already finished.

  KEYS[1] done
  KEYS[2] lease
  KEYS[3] pending
  KEYS[4] history
  KEYS[5] history-meta (lastSeq = seq of the last turn appended, tokens = tokens in the list)
  KEYS[6] scratchpad
  KEYS[7] record
  KEYS[8] seq        counter of sequence numbers handed out (hot state)
  KEYS[9] interrupt  the seq of the newest message that asked to interrupt (hot state)
  ARGV[1] seq
  ARGV[2] token      the lease holder; '' finishes only while nobody holds the lease (repair)
  ARGV[3] now (ms)
  ARGV[4] turn record TTL in seconds
  ARGV[5] tokens of the messages being appended
  ARGV[6] status: completed | failed | cancelled | interrupted
  ARGV[7] the reply (completed) or the reason (failed, cancelled)
  ARGV[8] citations JSON ('' when none)
  ARGV[9] hot state TTL in seconds, applied when nothing of the user is pending any more
  ARGV[10..] history message JSON, in order (completed turns, and interrupted ones with their partial work)
  Returns {code, next payload JSON or nil, tokens now in the history}
    code 1 finished
    code 0 already finished before (nothing changed)
   code -1 an earlier turn is not finished: protocol violation
   code -2 another delivery holds the lease
]]
local seq = tonumber(ARGV[1])
local doneText = redis.call('GET', KEYS[1])
if not doneText and redis.call('HEXISTS', KEYS[3], seq) == 0 then
  return {0, false}
end
local done = tonumber(doneText or '0')
if seq <= done then
  return {0, false}
end
if seq ~= done + 1 then
  return {-1, false}
end
local holder = redis.call('GET', KEYS[2])
if holder and holder ~= ARGV[2] then
  return {-2, false}
end

if #ARGV >= 10 then
  local last = tonumber(redis.call('HGET', KEYS[5], 'lastSeq') or '0')
  if seq > last then
    for i = 10, #ARGV do
      redis.call('RPUSH', KEYS[4], ARGV[i])
    end
    redis.call('HSET', KEYS[5], 'lastSeq', seq)
    redis.call('HINCRBY', KEYS[5], 'tokens', tonumber(ARGV[5]))
  end
end

local field = 'reply'
if ARGV[6] ~= 'completed' then
  field = 'error'
end
redis.call('HSET', KEYS[7], 'status', ARGV[6], field, ARGV[7], 'completedAt', ARGV[3])
if ARGV[8] ~= '' then
  redis.call('HSET', KEYS[7], 'citations', ARGV[8])
end
redis.call('EXPIRE', KEYS[7], ARGV[4])

redis.call('SET', KEYS[1], seq)
redis.call('DEL', KEYS[2], KEYS[6])
redis.call('HDEL', KEYS[3], seq)
if redis.call('HLEN', KEYS[3]) == 0 then
  for _, key in ipairs({KEYS[8], KEYS[1], KEYS[4], KEYS[5], KEYS[9]}) do
    redis.call('EXPIRE', key, ARGV[9])
  end
end
return {1, redis.call('HGET', KEYS[3], seq + 1), tonumber(redis.call('HGET', KEYS[5], 'tokens') or '0')}
