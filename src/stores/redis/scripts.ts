/**
 * The Lua scripts of the Redis store. Each touches exactly one key (KEYS[1]), so each is atomic on its own and runs on
 * one node of a cluster; nothing here relies on a transaction across keys or slots.
 */

// HSET/HDEL of ARGV[from..to] in chunks: `unpack` of a very long list overflows Lua's C stack.
const CHUNKED = `
local function each(command, from, to)
  for i = from, to, 1000 do
    redis.call(command, KEYS[1], unpack(ARGV, i, math.min(i + 999, to)))
  end
end
`

/**
 * Writes a new hash only if the key holds nothing (an expired key holds nothing). ARGV: deadline, then field/value
 * pairs. A deadline already past deletes the hash at once: created, and never readable. Resolves 1, or 0 when taken.
 */
export const CREATE = `${CHUNKED}
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
each('HSET', 2, #ARGV)
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
return 1
`

/**
 * The size of the data (as `SessionPatch.maxBytes` counts it, `#` counts bytes), kept in the hash's `z` field so a
 * bounded write reads only the fields it changes, never the whole hash. `z` is the field's value (false when absent).
 * ARGV from 4: the n fields to delete, then field/value pairs to set; only `d:` fields are data. Resolves the size
 * before and after, or nil when the hash has no `z` and `full` is false; with `full`, a hash written before `z`
 * existed is sized once from all its fields. A field is there when HSTRLEN says so, or HEXISTS for an empty one.
 */
const SIZES = `
local function len(field)
  local n = redis.call('HSTRLEN', KEYS[1], field)
  if n == 0 and redis.call('HEXISTS', KEYS[1], field) == 0 then return nil end
  return n
end
local function sizes(z, n, full)
  local before = tonumber(z)
  if not before then
    if not full then return nil end
    before = 0
    local all = redis.call('HGETALL', KEYS[1])
    for i = 1, #all, 2 do
      if string.sub(all[i], 1, 2) == 'd:' then before = before + #all[i] - 2 + #all[i + 1] end
    end
  end
  local after, gone = before, {}
  for i = 4, 3 + n do
    if string.sub(ARGV[i], 1, 2) == 'd:' and not gone[ARGV[i]] then
      local old = len(ARGV[i])
      if old then after = after - #ARGV[i] + 2 - old end
    end
    gone[ARGV[i]] = true
  end
  for i = 4 + n, #ARGV, 2 do
    if string.sub(ARGV[i], 1, 2) == 'd:' then
      local old = nil
      if not gone[ARGV[i]] then old = len(ARGV[i]) end
      if old then after = after - old else after = after + #ARGV[i] - 2 end
      after = after + #ARGV[i + 1]
    end
  end
  return before, after
end
`

/**
 * Patches an existing session hash. ARGV: new deadline or '', maxBytes or '', count n of fields to delete, those n
 * fields, then field/value pairs to set. Resolves 0 when the key is gone; { -1, size after } when the patch breaks
 * maxBytes (nothing written); { 1, user, absolute deadline } when the deadline moved past `i`, the score the user's
 * index is known to hold (the caller then lists the session further and raises `i`); else { 0 }. Keeps `z`, the
 * data's size, in step with every change of a `d:` field. Reads as little as it can (a script's every call costs):
 * `z` tells that the hash exists, except in a hash from before `z`.
 */
export const UPDATE = `${CHUNKED}${SIZES}
local z = redis.call('HGET', KEYS[1], 'z')
if not z and redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
local n = tonumber(ARGV[3])
local max = tonumber(ARGV[2])
local before, after = sizes(z, n, max ~= nil)
if max and after > max and after > before then return { -1, after } end
each('HDEL', 4, 3 + n)
if after and after ~= before and #ARGV - 3 - n < 1000 then
  redis.call('HSET', KEYS[1], 'z', after, unpack(ARGV, 4 + n, #ARGV))
else
  each('HSET', 4 + n, #ARGV)
  if after and after ~= before then redis.call('HSET', KEYS[1], 'z', after) end
end
if ARGV[1] == '' then return { 0 } end
redis.call('PEXPIREAT', KEYS[1], ARGV[1])
local listed = redis.call('HMGET', KEYS[1], 'userId', 'i', 'absoluteExpiresAt')
if not listed[1] or (tonumber(listed[2]) or 0) >= tonumber(ARGV[1]) then return { 0 } end
return { 1, listed[1], listed[3] or '0' }
`

/** Raises a session hash's `i` (the score its user's index holds) to ARGV[1], if the hash is still there. */
export const INDEXED = `
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
if (tonumber(redis.call('HGET', KEYS[1], 'i')) or 0) < tonumber(ARGV[1]) then
  redis.call('HSET', KEYS[1], 'i', ARGV[1])
end
return 1
`

/**
 * Deletes a hash. Resolves { deleted (0/1), has a user (0/1), that user }, for the index clean-up. A key that exists
 * is live: Redis hides an expired key.
 */
export const DESTROY = `
local user = redis.call('HGET', KEYS[1], 'userId')
return { redis.call('DEL', KEYS[1]), user and 1 or 0, user or '' }
`

/** Deletes a hash only if its `userId` is ARGV[1]: a stale index entry never removes another user's record. */
export const DESTROY_IF_OWNED = `
if redis.call('HGET', KEYS[1], 'userId') ~= ARGV[1] then return 0 end
return redis.call('DEL', KEYS[1])
`

/**
 * Adds one member to a per-user index (a sorted set scored by deadline). ARGV: score, member, now, '1' for no TTL.
 * The score only grows (an upper bound of the record's deadline is safe: the member outlives the record; a lower one
 * is not) and dead members are dropped. The set itself expires with its last member, so an index never outlives what
 * it lists; or, under an evicting policy (see `policy.ts`), carries no TTL, so it cannot be evicted before its records.
 */
export const INDEX = `
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ARGV[3])
redis.call('ZADD', KEYS[1], 'GT', ARGV[1], ARGV[2])
if ARGV[4] == '1' then
  redis.call('PERSIST', KEYS[1])
elseif redis.call('PEXPIRETIME', KEYS[1]) < tonumber(ARGV[1]) then
  redis.call('PEXPIREAT', KEYS[1], ARGV[1])
end
return 1
`

/**
 * Compare-and-rotate of a token hash. ARGV: expected hash, next hash, next expiresAt, next deadline, rotatedAt, then
 * the next meta (JSON) or '' to keep it. The expected hash becomes `previousHash`. Resolves the token's userId when it
 * rotated, nil when the token is gone or its hash moved on.
 */
export const ROTATE = `
if redis.call('HGET', KEYS[1], 'hash') ~= ARGV[1] then return nil end
local user = redis.call('HGET', KEYS[1], 'userId')
redis.call('HSET', KEYS[1], 'hash', ARGV[2], 'expiresAt', ARGV[3], 'previousHash', ARGV[1], 'rotatedAt', ARGV[5])
if ARGV[6] ~= '' then redis.call('HSET', KEYS[1], 'meta', ARGV[6]) end
redis.call('PEXPIREAT', KEYS[1], ARGV[4])
return user
`

/**
 * A fixed-window hit: INCR, and the first hit of a window sets its TTL (ARGV[1] ms), which later hits never extend.
 * Resolves { count, the window's end by the server's clock }. A counter left without a TTL is given one.
 */
export const HIT = `
local count = redis.call('INCR', KEYS[1])
local resetAt = redis.call('PEXPIRETIME', KEYS[1])
if count == 1 or resetAt < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  resetAt = redis.call('PEXPIRETIME', KEYS[1])
end
return { count, resetAt }
`

/** The current window of a counter without counting a hit: { count, end }, or nil when there is none. */
export const PEEK = `
local count = redis.call('GET', KEYS[1])
if not count then return nil end
return { tonumber(count), redis.call('PEXPIRETIME', KEYS[1]) }
`
