--[[
  Move a turn record to a new status without ever leaving a final status: a redelivered turn may
  be marked running again only while it has not completed or failed.

  KEYS[1] turn record hash
  ARGV[1] status (running | completed | failed)
  ARGV[2] TTL in seconds
  ARGV[3..] field, value pairs to set with it
  Returns 1 when written, 0 when the record was already final
]]
local current = redis.call('HGET', KEYS[1], 'status')
if current == 'completed' or current == 'failed' then
  if ARGV[1] == 'running' or current == 'completed' then
    return 0
  end
end
redis.call('HSET', KEYS[1], 'status', ARGV[1])
for i = 3, #ARGV, 2 do
  redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1])
end
redis.call('EXPIRE', KEYS[1], ARGV[2])
return 1
