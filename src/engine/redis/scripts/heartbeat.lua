-- Records an instance as alive now, by the Redis clock (so node clocks may disagree).
-- KEYS[1] = sb:nodes (ZSET instance -> ms), ARGV[1] = instance. Returns the time written.
if redis.replicate_commands then
  redis.replicate_commands()
end
local t = redis.call('TIME')
local ms = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
redis.call('ZADD', KEYS[1], ms, ARGV[1])
return ms
