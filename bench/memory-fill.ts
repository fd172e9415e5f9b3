import { randomBytes } from 'node:crypto'
import expressSession from 'express-session'
import { hashedKey, newToken } from '../src/core/token.ts'
import { newRecord } from '../src/session/record.ts'
import { memoryStore } from '../src/stores/memory/index.ts'
import type { SessionMeta, StoredData } from '../src/stores/types.ts'
import { PROFILE } from './app-shape.ts'

// `memory-fill.ts <coatcheck|express-session> <anonymous|logged-in> <count>`: fills one in-process memory store with
// `count` sessions of about 250 bytes of session JSON each, as the middleware would store them, and prints the heap
// growth per session. Run with --expose-gc, one store per process, so nothing else's garbage counts.

const [impl, kind, raw] = process.argv.slice(2)
const count = Number(raw)
const gc = (globalThis as { gc?: () => void }).gc
if (!gc) throw new Error('run with --expose-gc')
const DAY = 86_400_000
const UA = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36'
const user = (i: number) => `user-${i}`
/** The session's data: the profile of the comparison's login plus a one-line cart (about 250 bytes as JSON). */
const data = () => ({ ...PROFILE, cart: [{ sku: 'A-1', qty: 1 }] })

function heap(): { heapUsed: number; rss: number } {
  for (let i = 0; i < 3; i++) gc!()
  const { heapUsed, external, rss } = process.memoryUsage()
  return { heapUsed: heapUsed + external, rss }
}

async function fillCoatcheck(): Promise<unknown> {
  const store = memoryStore({ maxEntries: count + 1 })
  const rules = { idleTimeout: DAY, absoluteTimeout: 7 * DAY, rolling: true, touchAfter: DAY / 10 }
  const now = Date.now()
  for (let i = 0; i < count; i++) {
    const stored: StoredData = {}
    for (const [k, v] of Object.entries(data())) stored[k] = JSON.stringify(v)
    const loggedIn = kind === 'logged-in'
    const meta: SessionMeta = loggedIn ? { authAt: now, ip: '203.0.113.7', ua: UA } : {}
    const record = newRecord(rules, now, { data: stored, userId: loggedIn ? user(i) : null, meta })
    const key = hashedKey(newToken())
    await store.create(key, record, { unique: true })
    // Read back as a request would, so the store's cache of decoded records is full when the heap is measured.
    await store.get(key)
  }
  return store
}

async function fillExpressSession(): Promise<unknown> {
  const store = new expressSession.MemoryStore()
  const expires = new Date(Date.now() + DAY)
  for (let i = 0; i < count; i++) {
    const cookie = { originalMaxAge: DAY, expires, secure: false, httpOnly: true, path: '/' }
    const session = { cookie, ...data(), ...(kind === 'logged-in' && { user: user(i) }) }
    // express-session's own ID: 24 random bytes, base64url (uid-safe).
    await new Promise<void>((resolve, reject) =>
      store.set(randomBytes(24).toString('base64url'), session, (e?: unknown) => (e ? reject(e) : resolve())),
    )
  }
  return store
}

const before = heap()
const began = performance.now()
const store = impl === 'coatcheck' ? await fillCoatcheck() : await fillExpressSession()
const seconds = (performance.now() - began) / 1000
const after = heap()
const json = JSON.stringify(data()).length
process.stdout.write(
  `${JSON.stringify({
    impl,
    kind,
    count,
    sessionJsonBytes: json,
    heapBytesPerSession: (after.heapUsed - before.heapUsed) / count,
    rssBytesPerSession: (after.rss - before.rss) / count,
    fillSeconds: seconds,
    kept: store !== undefined,
  })}\n`,
)
process.exit(0)
