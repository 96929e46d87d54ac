--[[
  Accept a user message as the user's next turn: hand out its sequence number, remember the
  payload until the turn is finished, and create the turn record, in one atomic step. With an
  Idempotency-Key the same key returns the turn it created the first time and hands out nothing,
  provided the request is the same one (its fingerprint is stored with the key); the same key with
  another request is refused. Accepting a turn keeps the user's hot state (numbering, history,
  summary) from expiring until the turn is finished: turn-commit gives it a TTL again once nothing
  of the user is pending. A user whose hot state expired (or was lost) gets their numbering back
  from the durable transcript's floor. A user whose token budget is used up is refused before
  anything is written: no seq is consumed (the tenant's budget was checked by quota-check-5.lua
  just before).

  KEYS[1] seq        counter of sequence numbers handed out
  KEYS[2] pending    hash seq -> job payload JSON (without seq) of turns not finished yet
  KEYS[3] idem       Idempotency-Key record (any key in the user's slot when ARGV[4] is '0')
  KEYS[4] record     this turn's record hash
  KEYS[5] done       last finished sequence number
  KEYS[6] interrupt  the seq of the newest message that asked to interrupt the user's turn
  KEYS[7] history       the user's history list (hot state: kept alive while a turn is pending)
  KEYS[8] history-meta  lastSeq, tokens, summary, summaryUpTo (hot state, likewise; its `tokens`
                        are the history's part of the turn's cost estimate)
  KEYS[9] quota         the user's own limits (see includes/quota-check.lua)
  KEYS[10] used-day     tokens the user used today
  KEYS[11] used-month   tokens the user used this month
  KEYS[12] held         tokens the user's calls in flight hold
  KEYS[13] held-expiry  when those holds lapse
  ARGV[1] turnId
  ARGV[2] payload JSON
  ARGV[3] idempotency TTL in seconds
  ARGV[4] '1' when an Idempotency-Key was given
  ARGV[5] enqueuedAt (ms)
  ARGV[6] turn record TTL in seconds
  ARGV[7] threadId or ''
  ARGV[8] seq floor: the highest seq the durable transcript holds for this user, or '' if not
          looked up. Used only when Redis has no counter for the user (a new user, one whose hot
          state expired, or Redis lost its data), so numbering continues after the transcript
          instead of restarting at 1.
  ARGV[9] double-texting strategy: enqueue | reject | interrupt | coalesce
  ARGV[10] fingerprint of the request (no spaces), stored with the Idempotency-Key
  ARGV[11] the tenant's per-user day limit, ARGV[12] month limit ('' none): the user's fall back to them
  Returns {seq, turnId, created (1 new | 0 replay), payload JSON or '' when already finished,
           tokens of the user's history, turns of the user accepted before it and not finished},
          or {-1} when the counter is missing and ARGV[8] is '' (look the floor up and call again),
          or {-2, payload JSON of the unfinished turn} when ARGV[9] is 'reject' and one exists,
          or {-3, turnId} when the Idempotency-Key was used for a request with another fingerprint,
          or {-4, window, used, limit} when a budget of the user is used up
]]
--- @include "quota-check"

if ARGV[4] == '1' then
  -- "turnId seq fingerprint"; keys stored before fingerprints were kept have none and replay.
  local existing = redis.call('GET', KEYS[3])
  if existing then
    local turnId, seqText, fingerprint = string.match(existing, '^(%S+) (%S+) ?(%S*)$')
    if fingerprint ~= '' and fingerprint ~= ARGV[10] then
      return {-3, turnId}
    end
    local seq = tonumber(seqText)
    return {seq, turnId, 0, redis.call('HGET', KEYS[2], seq) or '', 0, 0}
  end
end
local refusal = quotaRefusal(KEYS[9], KEYS[10], KEYS[11], KEYS[12], KEYS[13], ARGV[5], ARGV[11], ARGV[12], false)
if refusal then
  return {-4, refusal[1], refusal[2], refusal[3]}
end
if redis.call('EXISTS', KEYS[1]) == 0 then
  if ARGV[8] == '' then
    return {-1}
  end
  local floor = math.max(tonumber(ARGV[8]), tonumber(redis.call('GET', KEYS[5]) or '0'))
  redis.call('SET', KEYS[1], floor)
  redis.call('SET', KEYS[5], floor, 'NX')
end
if ARGV[9] == 'reject' then
  local last = tonumber(redis.call('GET', KEYS[1]) or '0')
  local done = tonumber(redis.call('GET', KEYS[5]) or '0')
  if last > done then
    return {-2, redis.call('HGET', KEYS[2], done + 1) or ''}
  end
end
local seq = redis.call('INCR', KEYS[1])
for _, key in ipairs({KEYS[1], KEYS[5], KEYS[6], KEYS[7], KEYS[8]}) do
  redis.call('PERSIST', key)
end
if ARGV[9] == 'interrupt' then
  redis.call('SET', KEYS[6], seq)
end
redis.call('HSET', KEYS[2], seq, ARGV[2])
if ARGV[4] == '1' then
  redis.call('SET', KEYS[3], ARGV[1] .. ' ' .. seq .. ' ' .. ARGV[10], 'EX', ARGV[3])
end
local record = KEYS[4]
redis.call('HSET', record, 'status', 'queued', 'seq', seq, 'enqueuedAt', ARGV[5], 'attempts', 0)
if ARGV[7] ~= '' then
  redis.call('HSET', record, 'threadId', ARGV[7])
end
redis.call('EXPIRE', record, ARGV[6])
local done = tonumber(redis.call('GET', KEYS[5]) or '0')
return {seq, ARGV[1], 1, ARGV[2], tonumber(redis.call('HGET', KEYS[8], 'tokens') or '0'), seq - done - 1}
