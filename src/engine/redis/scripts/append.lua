-- Fenced, deduplicated, seq-assigning append of one batch of events to a conversation log.
-- All keys share the conversation's hash tag {org:c:ID}.
-- KEYS[1] = epoch   fencing epoch (INCR'd by each claim)
-- KEYS[2] = seq     last assigned seq
-- KEYS[3] = log     Stream; entry id "<seq>-1", field e = LogEvent JSON
-- KEYS[4] = dedup   HASH dedup key -> seq
-- KEYS[5] = gen     the log's generation
-- ARGV[1] = the writer's epoch
-- ARGV[2] = a fresh generation, used when the log has none yet
-- ARGV[3..] = pairs: dedup ('' = none, else 'k' .. key), event JSON without its leading '{"seq":0,'
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
local out = {'OK', gen}
for i = 3, #ARGV, 2 do
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
    redis.call('XADD', KEYS[3], seq .. '-1', 'e', '{"seq":' .. seq .. ',' .. ARGV[i + 1])
    if key then
      redis.call('HSET', KEYS[4], key, seq)
    end
    out[#out + 1] = seq
    out[#out + 1] = 0
    out[#out + 1] = ''
  end
end
return out
