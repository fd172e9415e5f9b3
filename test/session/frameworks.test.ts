import assert from 'node:assert/strict'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { describe, it } from 'node:test'
import connect from 'connect'
import express4 from 'express4'
import { commitSession, memoryStore, type Session, session } from '../../src/index.ts'
import { Browser, listen } from '../support/http.ts'
import { SECRET } from './harness.ts'

type WithSession = IncomingMessage & { session: Session }

/** Counts visits with the session, over whatever a framework hands the handler. */
function visit(req: WithSession, res: ServerResponse): void {
  req.session.visits = ((req.session.visits as number | undefined) ?? 0) + 1
  res.setHeader('content-type', 'application/json')
  res.end(JSON.stringify({ visits: req.session.visits }))
}

async function countsVisits(url: string): Promise<void> {
  const browser = new Browser(url)
  for (const expected of [1, 2, 3]) {
    const reply = await browser.get('/')
    assert.equal(reply.status, 200)
    assert.deepEqual(JSON.parse(reply.body), { visits: expected })
  }
  assert.ok(browser.jar.has('sid'))
}

describe('works across frameworks', () => {
  it('Express 4', async (t) => {
    const app = express4()
    app.use(session({ secret: SECRET }))
    app.get('/', (req, res) => visit(req as unknown as WithSession, res))
    const running = await listen(app)
    t.after(() => running.close())
    await countsVisits(running.url)
  })

  it('connect', async (t) => {
    const app = connect()
    app.use(session({ secret: SECRET }))
    app.use((req: IncomingMessage, res: ServerResponse) => visit(req as WithSession, res))
    const running = await listen(app)
    t.after(() => running.close())
    await countsVisits(running.url)
  })

  it('bare node:http, calling the middleware with a next callback', async (t) => {
    const middleware = session({ secret: SECRET, store: memoryStore() })
    const running = await listen((req, res) => {
      middleware(req, res, (error) => {
        if (error) {
          res.statusCode = 503
          res.end()
          return
        }
        visit(req as WithSession, res)
      })
    })
    t.after(() => running.close())
    await countsVisits(running.url)
  })

  it('commitSession writes and sets the cookie before a handler sends headers itself', async (t) => {
    const middleware = session({ secret: SECRET })
    const running = await listen((req, res) => {
      middleware(req, res, async () => {
        const r = req as WithSession
        r.session.visits = 1
        await commitSession(req, res)
        // Bypass the response methods entirely, as a framework writing to the socket would.
        const cookie = res.getHeader('set-cookie')
        res.socket?.end(
          `HTTP/1.1 200 OK\r\nSet-Cookie: ${String(cookie)}\r\nContent-Length: 2\r\nConnection: close\r\n\r\nok`,
        )
      })
    })
    t.after(() => running.close())
    const browser = new Browser(running.url)
    const reply = await browser.get('/')
    assert.equal(reply.body, 'ok')
    assert.match(reply.setCookies[0] ?? '', /^sid=s%3A/)
  })

  it('session methods also take express-session style callbacks', async (t) => {
    const app = express4()
    app.use(session({ secret: SECRET }))
    app.get('/', (req, res) => {
      const s = (req as unknown as WithSession).session
      s.visits = 1
      s.save((error) => {
        if (error) return res.status(500).end()
        s.regenerate({ keep: true }, (error2) => {
          if (error2) return res.status(500).end()
          s.reload((error3) => {
            res.json({ ok: !error3, visits: (req as unknown as WithSession).session.visits })
          })
        })
      })
    })
    const running = await listen(app)
    t.after(() => running.close())
    const reply = await new Browser(running.url).get('/')
    assert.deepEqual(JSON.parse(reply.body), { ok: true, visits: 1 })
    assert.equal(reply.setCookies.length, 1)
  })
})
