-- Fenced, deduplicated, seq-assigning append of one batch of events to a conversation log.
-- All keys share the conversation's hash tag {org:c:ID}.
-- KEYS[1] = epoch   fencing epoch (INCR'd by each claim)
-- KEYS[2] = seq     last assigned seq
-- KEYS[3] = log     Stream; entry id "<seq>-1", field e = LogEvent JSON
-- KEYS[4] = dedup   HASH dedup key -> seq
-- KEYS[5] = gen     the log's generation
-- ARGV[1] = the writer's epoch
-- ARGV[2] = a fresh generation, used when the log has none yet
-- ARGV[3] = the conversation's pub/sub channel
-- ARGV[4] = the notification's head up to its generation: '{"t":"event","o":…,"c":…'
-- ARGV[5] = the conversation's last public seq before this batch
-- ARGV[6..] = triples: dedup ('' = none, else 'k' .. key), visibility ('public' or 'agents'),
--             event JSON without its leading '{"seq":0,'
-- Each new event is published on the channel as the head completed with
-- ',"g":gen,"seq":seq,"pp":previous public seq,"vis":visibility}', a newline, and the event's
-- JSON as logged (src/hub/relay.rs reads it): the other nodes hear of it in the same round
-- trip as the append, and (with appendfsync always) only once it is durable, as the
-- subscribers' output is written after the AOF's fsync like every reply.
-- Returns {'FENCED', current_epoch} (nothing written) or
--         {'OK', gen, seq1, dup1, json1, seq2, dup2, json2, ...}
--         where dup = 1 for an event already in the log (json = the stored event), else 0 and ''.
-- Checks come before the first write, so a refused batch writes nothing.
local current = redis.call('GET', KEYS[1]) or '0'
if current ~= ARGV[1] then
  return {'FENCED', current}
end
local gen = redis.call('GET', KEYS[5])
if not gen then
  gen = ARGV[2]
  redis.call('SET', KEYS[5], gen)
end
local channel = ARGV[3]
local pp = tonumber(ARGV[5])
local out = {'OK', gen}
for i = 6, #ARGV, 3 do
  local d = ARGV[i]
  local key = false
  if #d > 0 then
    key = string.sub(d, 2)
  end
  local done = false
  if key then
    local seen = redis.call('HGET', KEYS[4], key)
    if seen then
      local id = seen .. '-1'
      local found = redis.call('XRANGE', KEYS[3], id, id)
      if found[1] then
        local fields = found[1][2]
        local json = ''
        for j = 1, #fields, 2 do
          if fields[j] == 'e' then
            json = fields[j + 1]
          end
        end
        out[#out + 1] = tonumber(seen)
        out[#out + 1] = 1
        out[#out + 1] = json
        done = true
      end
    end
  end
  if not done then
    local seq = redis.call('INCR', KEYS[2])
    local vis = ARGV[i + 1]
    local json = '{"seq":' .. seq .. ',' .. ARGV[i + 2]
    redis.call('XADD', KEYS[3], seq .. '-1', 'e', json)
    if key then
      redis.call('HSET', KEYS[4], key, seq)
    end
    redis.call('PUBLISH', channel, ARGV[4] .. ',"g":"' .. gen .. '","seq":' .. seq
      .. ',"pp":' .. pp .. ',"vis":"' .. vis .. '"}\n' .. json)
    if vis == 'public' then
      pp = seq
    end
    out[#out + 1] = seq
    out[#out + 1] = 0
    out[#out + 1] = ''
  end
end
return out
