/**
 * Session data round trip, generated, through real HTTP on every backend at once: memory, SQLite, Redis, Redis
 * Cluster, PostgreSQL and a callback store. Each run is a short sequence of writes to one session; every backend gets
 * the same sequence, and each write must get the same answer everywhere, the one a model of the limits predicts
 * (`maxBytes`, `maxDepth`, the key rules of src/core/keys.ts and the reserved names): stored and read back equal, or
 * refused at write time with the same error code, leaving what was stored before.
 */
import assert from 'node:assert/strict'
import { after, before, describe, it } from 'node:test'
import express from 'express'
import fc from 'fast-check'
import { session } from '../../src/index.ts'
import { RESERVED } from '../../src/session/data.ts'
import type { SessionStore } from '../../src/stores/types.ts'
import type { Backends } from '../reliability/backends.ts'
import { Browser, listen, type Running } from '../support/http.ts'

const SECRET = 'round-trip-secret-that-is-at-least-32-chars'
const MAX_BYTES = 1000
const MAX_DEPTH = 6
const RUNS = Number(process.env.ROUNDTRIP_RUNS ?? 30)
const DANGEROUS = ['__proto__', 'constructor']

function startApp(store: SessionStore): Promise<Running> {
  const app = express()
  app.set('env', 'test')
  app.use(express.json({ limit: '1mb' }))
  app.use(session({ secret: SECRET, store, maxBytes: MAX_BYTES, maxDepth: MAX_DEPTH }))
  app.post('/put', async (req, res) => {
    try {
      req.session[req.body.key] = req.body.value
      await req.session.save()
      res.json({ ok: true })
    } catch (error) {
      // Back to what is stored, so the commit does not try the refused write again.
      await req.session.reload()
      res.status(200).json({ error: (error as { code?: string }).code ?? String(error) })
    }
  })
  app.get('/dump', (req, res) => {
    res.json({ ...req.session })
  })
  app.post('/start', (req, res) => {
    req.session.start = 1
    res.json({ ok: true })
  })
  return listen(app)
}

/** Keys: a few reused ones (so writes replace each other), reserved names, and any text, invalid ones included. */
const key = fc.oneof(
  { weight: 6, arbitrary: fc.constantFrom('a', 'cart', 'ключ', '🔑', 'd:x', 'a.b', '$where', 'start') },
  { weight: 1, arbitrary: fc.constantFrom(...RESERVED) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', maxLength: 12 }) },
  { weight: 1, arbitrary: fc.constantFrom('', 'x'.repeat(129), 'x'.repeat(128), 'nul\u0000', 'lone\ud800', '\udc00x') },
)

/** A value nested `levels` deep, objects and arrays in turn. */
function nested(levels: number): unknown {
  let v: unknown = 'leaf'
  for (let i = 0; i < levels; i++) v = i % 2 ? [v] : { deeper: v }
  return v
}

/** JSON-safe values: scalars, nested containers (past maxDepth at times), long strings (past maxBytes at times). */
const value = fc.oneof(
  { weight: 4, arbitrary: fc.jsonValue({ maxDepth: 4 }) },
  { weight: 2, arbitrary: fc.string({ unit: 'binary', minLength: 100, maxLength: 500 }) },
  { weight: 2, arbitrary: fc.integer({ min: 1, max: 10 }).map(nested) },
)

/**
 * One hand-written run that meets every outcome, so each is checked on every backend whatever the seed; the
 * generated runs add to it (each outcome's own generated rate is a few per cent of writes).
 */
const EVERY_OUTCOME: [string, unknown][] = [
  ['cart', { items: [1, 2] }],
  ['userId', 'u1'],
  ['', 1],
  ['big', 'x'.repeat(MAX_BYTES)],
  ['deep', nested(MAX_DEPTH + 1)],
  ['deep', nested(MAX_DEPTH)],
]

type Outcome = { ok: true } | { error: string }

/** What the engine must answer to setting `k` to `v` on a session holding `model` (key -> JSON text). */
function predict(model: Map<string, string>, k: string, v: unknown): Outcome {
  if (RESERVED.has(k)) return { error: 'RESERVED_KEY' }
  if (k.length === 0 || k.length > 128 || !k.isWellFormed() || k.includes('\0')) return { error: 'INVALID_KEY' }
  const json = JSON.stringify(v)
  if (model.get(k) === json) return { ok: true }
  let bytes = Buffer.byteLength(k) + Buffer.byteLength(json)
  for (const [other, text] of model) if (other !== k) bytes += Buffer.byteLength(other) + Buffer.byteLength(text)
  if (bytes > MAX_BYTES) return { error: 'SESSION_TOO_LARGE' }
  if (depth(v) > MAX_DEPTH) return { error: 'SESSION_TOO_DEEP' }
  return { ok: true }
}

function depth(v: unknown): number {
  if (typeof v !== 'object' || v === null) return 0
  return 1 + Math.max(0, ...Object.values(v).map(depth))
}

/** What reading a stored value gives back: the JSON round trip, without `__proto__` and `constructor` keys. */
function readBack(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(readBack)
  if (typeof v !== 'object' || v === null) return v
  const out: Record<string, unknown> = {}
  for (const k of Object.keys(v)) if (!DANGEROUS.includes(k)) out[k] = readBack((v as Record<string, unknown>)[k])
  return out
}

const post = async (browser: Browser, path: string, body: unknown) => {
  const reply = await browser.request(path, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  assert.equal(reply.status, 200, `${path}: ${reply.status} ${reply.body}`)
  return JSON.parse(reply.body)
}

/** Registers the round trip on every backend of `backends()` (started by the caller). */
export function roundTrip(backends: () => Backends): void {
  describe('session data round trip (generated), the same on every backend', () => {
    const apps: { name: string; app: Running }[] = []
    before(async () => {
      for (const backend of backends().list)
        apps.push({ name: backend.name, app: await startApp(await backend.open()) })
    })
    after(async () => {
      for (const { app } of apps) await app.close()
    })

    it('any JSON-safe value under the limits reads back equal; anything outside is refused the same way', async (t) => {
      const counts: Record<string, number> = {}
      await fc.assert(
        fc.asyncProperty(fc.array(fc.tuple(key, value), { minLength: 1, maxLength: 4 }), async (writes) => {
          const model = new Map<string, string>([['start', '1']])
          const browsers = apps.map(({ app }) => new Browser(app.url))
          for (const browser of browsers) await post(browser, '/start', {})
          for (const [k, v] of writes) {
            const expected = predict(model, k, v)
            counts['error' in expected ? expected.error : 'stored'] =
              (counts['error' in expected ? expected.error : 'stored'] ?? 0) + 1
            const answers = await Promise.all(browsers.map((b) => post(b, '/put', { key: k, value: v })))
            for (const [i, answer] of answers.entries())
              assert.deepEqual(answer, expected, `${apps[i]!.name}: put ${JSON.stringify(k)}`)
            if ('ok' in expected) model.set(k, JSON.stringify(v))
            // The whole session reads back as the model holds it, on every backend (a refused write left the old value).
            const expectedData = Object.fromEntries(
              [...model].map(([name, json]) => [name, readBack(JSON.parse(json))]),
            )
            const reads = await Promise.all(browsers.map((b) => b.get('/dump')))
            for (const [i, read] of reads.entries()) {
              assert.deepEqual(JSON.parse(read.body), expectedData, `${apps[i]!.name}: after put ${JSON.stringify(k)}`)
            }
          }
        }),
        { numRuns: RUNS, examples: [[EVERY_OUTCOME]] },
      )
      t.diagnostic(`writes by predicted outcome: ${JSON.stringify(counts)}`)
      for (const outcome of ['stored', 'RESERVED_KEY', 'INVALID_KEY', 'SESSION_TOO_LARGE', 'SESSION_TOO_DEEP']) {
        assert.ok((counts[outcome] ?? 0) > 0, `the run met ${outcome}`)
      }
    })
  })
}
