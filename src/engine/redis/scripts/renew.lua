-- Extends a lease we hold. Keys share the actor's hash tag.
-- KEYS[1] = lease, KEYS[2] = epoch
-- ARGV[1] = "<instance>:<epoch>", ARGV[2] = epoch, ARGV[3] = ttl ms
-- Returns 1 when the lease is (again) ours at that epoch, else 0.
local value = redis.call('GET', KEYS[1])
if value == ARGV[1] then
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return 1
end
if (not value) and (redis.call('GET', KEYS[2]) or '0') == ARGV[2] then
  -- The lease lapsed but nobody claimed the actor since: take it again at the same epoch.
  redis.call('SET', KEYS[1], ARGV[1], 'PX', ARGV[3])
  return 1
end
return 0
