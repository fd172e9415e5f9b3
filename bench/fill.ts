import type pg from 'pg'
import { createClient } from 'redis'
import { deadline, indexScore, sessionFields } from '../src/stores/redis/records.ts'
import type { CoatcheckStore, SessionRecord } from '../src/stores/types.ts'
import { PROFILE } from './servers/serve.ts'

// Filling a store with up to a million sessions, fast: not through `create` (a million scripts plus index scripts)
// but by writing each backend's own layout in bulk. Every filler user owns 5 sessions, like the user under test.

/** A connected node-redis client on `database` (0 unless told). */
export const connectRedis = (url: string, database = 0) => createClient({ url, database }).connect()
export type Redis = Awaited<ReturnType<typeof connectRedis>>

const DAY = 86_400_000
/** Sessions per filler user. */
export const PER_USER = 5

/** The store key of filler session `i`: 64 hex characters, like the SHA-256 keys the engine uses. */
export const fillerKey = (i: number) => i.toString(16).padStart(64, '0')
export const fillerUser = (i: number) => `user${Math.floor(i / PER_USER)}`

/** A logged-in session as the engine stores it: the read bench's ~200 bytes of data, plus login meta. */
export function record(userId: string, now = Date.now()): SessionRecord {
  const data = Object.fromEntries(Object.entries({ user: userId, ...PROFILE }).map(([k, v]) => [k, JSON.stringify(v)]))
  const meta = { authAt: now, ip: '127.0.0.1', ua: 'bench' }
  return { data, userId, meta, createdAt: now, lastSeenAt: now, expiresAt: now + DAY, absoluteExpiresAt: now + 7 * DAY }
}

/**
 * Writes sessions `from` to `to - 1` in the layout `src/stores/redis/index.ts` documents, pipelined: the hash (with the
 * store's own `sessionFields`) and its PEXPIREAT, the member in the user's sorted set (at `indexScore`), and that set's
 * PEXPIREAT.
 */
export async function fillRedis(client: Redis, prefix: string, from: number, to: number): Promise<void> {
  const now = Date.now()
  for (let start = from; start < to; start += 5000) {
    const sent: Promise<unknown>[] = []
    for (let i = start; i < Math.min(to, start + 5000); i++) {
      const r = record(fillerUser(i), now)
      const key = `${prefix}s:${fillerKey(i)}`
      const index = `${prefix}u:${r.userId}`
      const score = indexScore(r, now)
      sent.push(client.sendCommand(['HSET', key, ...sessionFields(r, score)]))
      sent.push(client.sendCommand(['PEXPIREAT', key, deadline(r.expiresAt)]))
      sent.push(client.sendCommand(['ZADD', index, deadline(score), fillerKey(i)]))
      if (i % PER_USER === PER_USER - 1) sent.push(client.sendCommand(['PEXPIREAT', index, deadline(score)]))
    }
    await Promise.all(sent)
  }
}

/** express-session's JSON for a session of `userId`, as connect-redis stores it under `sess:<id>`. */
export function legacyJson(userId: string, now = Date.now()): string {
  const cookie = { originalMaxAge: DAY, expires: new Date(now + DAY).toISOString(), httpOnly: true, path: '/' }
  return JSON.stringify({ cookie, userId, ...PROFILE })
}

/** Writes sessions `from` to `to - 1` the way connect-redis does: one JSON string per session with a TTL. */
export async function fillLegacy(client: Redis, from: number, to: number): Promise<void> {
  const now = Date.now()
  for (let start = from; start < to; start += 5000) {
    const sent: Promise<unknown>[] = []
    for (let i = start; i < Math.min(to, start + 5000); i++) {
      sent.push(client.sendCommand(['SET', `sess:${fillerKey(i)}`, legacyJson(fillerUser(i), now), 'EX', '86400']))
    }
    await Promise.all(sent)
  }
}

/**
 * Inserts sessions `from` to `to - 1` into the Postgres store's table with one `INSERT ... SELECT generate_series`,
 * in the store's format (data values are JSON texts held as jsonb strings), then ANALYZEs, as autovacuum would.
 */
export async function fillPostgres(pool: pg.Pool, table: string, from: number, to: number): Promise<void> {
  const r = record('template')
  await pool.query(
    `INSERT INTO ${table} (key, user_id, data, meta, created_at, last_seen_at, expires_at, absolute_expires_at)
     SELECT lpad(to_hex(g), 64, '0'), u, $1::jsonb || jsonb_build_object('user', to_json(u)::text), $2::jsonb,
       $3, $3, $4, $5
     FROM generate_series($6::int, $7::int) AS g, LATERAL (SELECT 'user' || (g / ${PER_USER}) AS u) AS owner`,
    [JSON.stringify(r.data), JSON.stringify(r.meta), r.createdAt, r.expiresAt, r.absoluteExpiresAt, from, to - 1],
  )
  await pool.query(`ANALYZE ${table}`)
}

/** Fails unless the store reads a filler session and lists a filler user's sessions as its own `create` would. */
export async function checkFill(store: CoatcheckStore, count: number): Promise<void> {
  const i = count - 1
  const got = await store.get(fillerKey(i))
  const want = record(fillerUser(i))
  if (got?.userId !== want.userId || got.data.user !== want.data.user || got.data.email !== want.data.email) {
    throw new Error(`filler session ${i} reads back as ${JSON.stringify(got)}`)
  }
  const listed = await store.listByUser(fillerUser(i))
  if (listed.length !== PER_USER) throw new Error(`filler user ${fillerUser(i)} lists ${listed.length} sessions`)
}
