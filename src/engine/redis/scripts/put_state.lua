-- Writes an actor's persisted state, fenced. Keys share the actor's hash tag.
-- KEYS[1] = epoch, KEYS[2] = state
-- ARGV[1] = the writer's epoch, ARGV[2] = state
-- Returns {'FENCED', current_epoch} (nothing written) or {'OK'}.
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then
  return {'FENCED', current}
end
redis.call('SET', KEYS[2], ARGV[2])
return {'OK'}
