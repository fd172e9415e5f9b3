import { argon2Sync, timingSafeEqual } from 'node:crypto'
import express from 'express'
import { hashPassword, logIn, memoryStore, session, verifyPassword } from '../../src/index.ts'
import { PASSWORD, serve, USER } from './serve.ts'

// `login.ts async` checks passwords with coatcheck's `verifyPassword` (argon2id on libuv's thread pool);
// `login.ts sync` is the counter-example: the same argon2id check with `argon2Sync`, on the event loop.

const mode = process.argv[2]
if (mode !== 'async' && mode !== 'sync') throw new TypeError(`login server mode must be async or sync, got ${mode}`)
const hash = await hashPassword(PASSWORD)

/** The same check as `verifyPassword`, blocking: parses the PHC string and recomputes the tag in this thread. */
function verifySync(phc: string, password: string): boolean {
  const [, , , params, salt, tag] = phc.split('$')
  const p = Object.fromEntries(params!.split(',').map((kv) => kv.split('=') as [string, string]))
  const expected = Buffer.from(tag!, 'base64')
  const computed = argon2Sync('argon2id', {
    message: Buffer.from(password.normalize('NFKC')),
    nonce: Buffer.from(salt!, 'base64'),
    memory: Number(p.m),
    passes: Number(p.t),
    parallelism: Number(p.p),
    tagLength: expected.length,
  })
  return timingSafeEqual(computed, expected)
}

const app = express()
app.use(session({ secret: 'bench-secret-bench-secret-bench-secret', store: memoryStore() }))
app.use(express.json())
app.post('/login', async (req, res) => {
  const password = String((req.body as { password?: unknown } | undefined)?.password ?? '')
  const ok = mode === 'async' ? (await verifyPassword(hash, password)).ok : verifySync(hash, password)
  if (!ok) {
    res.status(401).json({ error: 'wrong password' })
    return
  }
  await logIn(req, USER)
  res.json({ ok: true })
})
app.get('/me', (req, res) => {
  if (req.session.userId === null) res.status(401).json({ error: 'unauthenticated' })
  else res.json({ user: req.session.userId })
})
await serve(app)
