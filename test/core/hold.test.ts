import assert from 'node:assert/strict'
import { createHash } from 'node:crypto'
import type { ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import { after, before, describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import fastifyExpress from '@fastify/express'
import express from 'express'
import Fastify from 'fastify'
import legacySession from '../../src/express-session/index.ts'
import { logIn, memoryStore, session } from '../../src/index.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { Browser, listen, type Reply, send } from '../support/http.ts'

const SECRET = 'hold-test-secret-that-is-32-chars-or-more'

// A crash is what some of these tests look for: record it instead of letting node:test report it elsewhere.
const crashes: unknown[] = []
const onCrash = (error: unknown) => crashes.push(error)
before(() => process.on('uncaughtException', onCrash))
after(() => process.off('uncaughtException', onCrash))

type Handler = (req: express.Request, res: express.Response) => void | Promise<void>

/** An Express app on one face of coatcheck (or none), answering GET / with `handler`. */
async function serve(face: 'modern' | 'drop-in' | 'none', handler: Handler, store?: CoatcheckStore) {
  const app = express()
  app.set('env', 'test')
  if (face === 'modern') app.use(session({ secret: SECRET, store: store ?? memoryStore() }))
  if (face === 'drop-in') app.use(legacySession({ secret: SECRET, resave: false, saveUninitialized: false }))
  app.get('/', handler)
  app.get('/me', (req, res) => {
    res.json({ userId: req.session?.userId ?? null })
  })
  return listen(app)
}

/** The session cookie among a reply's Set-Cookie lines, and the others. */
function cookies(reply: Reply) {
  const ours = reply.setCookies.filter((line) => /^(sid|connect\.sid)=/.test(line))
  return { ours, theirs: reply.setCookies.filter((line) => !ours.includes(line)).map((l) => l.split(';')[0]) }
}

describe('the held response', () => {
  describe('writeHead(status, headers) keeps the session cookie beside the app’s own', () => {
    const forms: Record<string, (res: ServerResponse) => void> = {
      'an object': (res) => res.writeHead(200, { 'Set-Cookie': 'theme=dark; Path=/', 'Content-Type': 'text/plain' }),
      'an object with a reason': (res) => res.writeHead(201, 'Made', { 'set-cookie': ['theme=dark', 'lang=en'] }),
      'raw flat array': (res) => res.writeHead(200, ['Set-Cookie', 'theme=dark', 'Set-Cookie', 'lang=en']),
      'raw pairs': (res) => res.writeHead(200, [['Set-Cookie', 'theme=dark']] as never),
    }
    const expected: Record<string, string[]> = {
      'an object': ['theme=dark'],
      'an object with a reason': ['theme=dark', 'lang=en'],
      'raw flat array': ['theme=dark', 'lang=en'],
      'raw pairs': ['theme=dark'],
    }
    for (const [form, writeHead] of Object.entries(forms)) {
      it(`modern mode after logIn, headers as ${form}`, async (t) => {
        const running = await serve('modern', async (req, res) => {
          await logIn(req, 'u-ada')
          writeHead(res)
          res.end('ok')
        })
        t.after(() => running.close())
        const browser = new Browser(running.url)
        const reply = await browser.get('/')
        assert.equal(reply.body, 'ok')
        const { ours, theirs } = cookies(reply)
        assert.equal(ours.length, 1, 'the session cookie')
        assert.deepEqual(theirs, expected[form])
        assert.deepEqual(JSON.parse((await browser.get('/me')).body), { userId: 'u-ada' }, 'the login holds')
      })
    }

    it('the status message and Node’s override rule are kept', async (t) => {
      const running = await serve('modern', (req, res) => {
        req.session.n = 1
        res.setHeader('Set-Cookie', 'replaced=1')
        res.setHeader('X-Kept', 'yes')
        res.writeHead(202, 'Queued', { 'Set-Cookie': 'theme=dark' })
        res.end()
      })
      t.after(() => running.close())
      const response = await fetch(running.url)
      assert.equal(response.status, 202)
      assert.equal(response.statusText, 'Queued')
      assert.equal(response.headers.get('x-kept'), 'yes')
      const lines = response.headers.getSetCookie().map((l) => l.split(';')[0]!.split('=')[0])
      assert.deepEqual(lines.sort(), ['sid', 'theme'], 'as Node does: the headers argument replaces a set header')
    })

    it('the drop-in face', async (t) => {
      const running = await serve('drop-in', (req, res) => {
        req.session!.views = 1
        res.writeHead(200, { 'Set-Cookie': 'theme=dark; Path=/' })
        res.end('ok')
      })
      t.after(() => running.close())
      const { ours, theirs } = cookies(await send(running.url))
      assert.equal(ours.length, 1)
      assert.deepEqual(theirs, ['theme=dark'])
    })
  })

  it('a piped download waits for the commit without being read into memory, then completes intact', async (t) => {
    const CHUNK = 64 * 1024
    const CHUNKS = 512 // 32 MiB
    const progress = { produced: 0, atCommit: -1 }
    const inner = memoryStore()
    const slowStore: CoatcheckStore = {
      ...inner,
      async create(key, record, options) {
        await sleep(300)
        progress.atCommit = progress.produced
        return inner.create(key, record, options)
      },
    }
    const running = await serve(
      'modern',
      (req, res) => {
        req.session.downloads = 1
        let i = 0
        const source = new Readable({
          read() {
            if (i === CHUNKS) return this.push(null)
            progress.produced += CHUNK
            this.push(Buffer.alloc(CHUNK, i++ % 251))
          },
        })
        res.setHeader('Content-Type', 'application/octet-stream')
        source.pipe(res)
      },
      slowStore,
    )
    t.after(() => running.close())
    const response = await fetch(running.url)
    const body = Buffer.from(await response.arrayBuffer())
    assert.ok(progress.atCommit >= 0 && progress.atCommit <= 1024 * 1024, `read ${progress.atCommit} bytes while held`)
    assert.equal(body.length, CHUNK * CHUNKS)
    const expected = createHash('sha256')
    for (let i = 0; i < CHUNKS; i++) expected.update(Buffer.alloc(CHUNK, i % 251))
    assert.equal(createHash('sha256').update(body).digest('hex'), expected.digest('hex'))
    assert.equal(response.headers.getSetCookie().length, 1)
  })

  describe('a framework that reports headersSent before anything is written', () => {
    // What @fastify/express does: res.headersSent is true from the moment res.send is called.
    const early: Handler = (req, res) => {
      let replied = false
      Object.defineProperty(res, 'headersSent', { get: () => replied, configurable: true })
      req.session!.visits = ((req.session!.visits as number | undefined) ?? 0) + 1
      replied = true
      res.end(JSON.stringify({ visits: req.session!.visits }))
    }
    for (const face of ['modern', 'drop-in'] as const) {
      it(`${face}: the cookie still leaves and the session is kept`, async (t) => {
        const running = await serve(face, early)
        t.after(() => running.close())
        const browser = new Browser(running.url)
        for (const visits of [1, 2, 3]) assert.deepEqual(JSON.parse((await browser.get('/')).body), { visits })
      })
    }

    it('Fastify with @fastify/express, an Express router answering with res.send', async (t) => {
      const fastify = Fastify()
      await fastify.register(fastifyExpress)
      const router = express.Router()
      router.use(session({ secret: SECRET, store: memoryStore() }))
      router.get('/', (req, res) => {
        req.session.visits = ((req.session.visits as number | undefined) ?? 0) + 1
        res.send({ visits: req.session.visits })
      })
      fastify.use(router)
      await fastify.listen({ port: 0, host: '127.0.0.1' })
      t.after(() => fastify.close())
      const { port } = fastify.server.address() as { port: number }
      const browser = new Browser(`http://127.0.0.1:${port}`)
      const first = await browser.get('/')
      assert.equal(first.setCookies.length, 1, 'Set-Cookie on the first answer')
      assert.deepEqual(JSON.parse(first.body), { visits: 1 })
      for (const visits of [2, 3]) assert.deepEqual(JSON.parse((await browser.get('/')).body), { visits })
    })
  })

  describe('calls after the response was ended behave as they do without coatcheck', () => {
    /** What a handler observes of its own calls, and what the client gets. */
    interface Outcome {
      thrown: unknown[]
      errors: unknown[]
      headersSent: boolean[]
      status?: number
      body?: string
    }
    const scenarios: Record<string, (res: express.Response, step: (call: () => unknown) => void) => void> = {
      'end twice': (res, step) => {
        step(() => res.end('a'))
        step(() => res.end('b'))
      },
      'end, then end without data': (res, step) => {
        step(() => res.end('a'))
        step(() => res.end())
      },
      'end, then write': (res, step) => {
        step(() => res.end('a'))
        step(() => res.write('b'))
      },
      'end, then set a header': (res, step) => {
        step(() => res.end('a'))
        step(() => res.setHeader('X-Late', '1'))
        step(() => res.appendHeader('X-Late', '1'))
        step(() => res.removeHeader('Content-Type'))
      },
      'write, then writeHead': (res, step) => {
        step(() => res.write('a'))
        step(() => res.writeHead(500))
        step(() => res.end())
      },
      'Express send twice': (res, step) => {
        step(() => res.send('a'))
        step(() => res.send('b'))
      },
      'Express send, then json': (res, step) => {
        step(() => res.type('text').send('a'))
        step(() => res.status(500).json({ late: true }))
      },
    }

    async function observe(face: 'modern' | 'none', scenario: (typeof scenarios)[string]): Promise<Outcome> {
      const outcome: Outcome = { thrown: [], errors: [], headersSent: [] }
      const closed = Promise.withResolvers<void>()
      const running = await serve(face, (req, res) => {
        if (face === 'modern') req.session.n = 1
        res.on('error', (error: NodeJS.ErrnoException) => outcome.errors.push(error.code))
        res.on('close', () => setTimeout(closed.resolve, 20))
        scenario(res, (call) => {
          try {
            call()
          } catch (error) {
            outcome.thrown.push((error as NodeJS.ErrnoException).code)
          }
          outcome.headersSent.push(res.headersSent)
        })
      })
      try {
        const reply = await send(running.url)
        await closed.promise
        return { ...outcome, status: reply.status, body: reply.body }
      } finally {
        await running.close()
      }
    }

    it('Express send twice, the error left to Express: no crash, and the server keeps answering', async (t) => {
      const running = await serve('modern', async (req, res) => {
        req.session.n = 1
        res.send('a')
        res.send('b') // throws ERR_HTTP_HEADERS_SENT, as without coatcheck; Express's handler then drops the socket
      })
      t.after(() => running.close())
      // Without coatcheck the first answer had left before the socket was dropped; held, it may not have.
      await send(running.url).catch(() => {})
      await sleep(50)
      assert.deepEqual(crashes.splice(0), [], 'no uncaught exception')
      assert.equal((await send(`${running.url}/me`)).status, 200)
    })

    for (const [name, scenario] of Object.entries(scenarios)) {
      it(name, async () => {
        const plain = await observe('none', scenario)
        const held = await observe('modern', scenario)
        assert.deepEqual(held, plain)
        assert.deepEqual(crashes.splice(0), [], 'no uncaught exception')
      })
    }
  })
})
