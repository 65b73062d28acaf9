-- Takes an actor's lease. Keys share the actor's hash tag.
-- KEYS[1] = lease   "<instance>:<epoch>", PX ttl
-- KEYS[2] = epoch   fencing epoch, only grows
-- ARGV[1] = this instance, ARGV[2] = instance to steal from ('' = none), ARGV[3] = ttl ms
-- Returns {'MINE', epoch} or {'HELD', holder}.
local lease = redis.call('GET', KEYS[1])
local holder, held = false, false
if lease then
  holder, held = string.match(lease, '^(.*):(%d+)$')
  if not holder then
    holder = lease
  end
end
if lease and holder == ARGV[1] then
  local current = redis.call('GET', KEYS[2]) or '0'
  if held == current then
    -- Already ours at the current epoch: extend, keep the epoch.
    redis.call('PEXPIRE', KEYS[1], ARGV[3])
    return {'MINE', tonumber(current)}
  end
end
if (not lease) or holder == ARGV[1] or (ARGV[2] ~= '' and holder == ARGV[2]) then
  local epoch = redis.call('INCR', KEYS[2])
  redis.call('SET', KEYS[1], ARGV[1] .. ':' .. epoch, 'PX', ARGV[3])
  return {'MINE', epoch}
end
return {'HELD', holder}
