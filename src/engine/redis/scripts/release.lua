-- Gives a lease up, only if it is still ours at that epoch.
-- KEYS[1] = lease, ARGV[1] = "<instance>:<epoch>"
if redis.call('GET', KEYS[1]) == ARGV[1] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
