/**
 * The JSON API for a single-page app on the same site, under the same rules as the pages: the same session cookie,
 * and CSRF decided by Sec-Fetch-Site, then Origin, then the `x-csrf-token` header (from `GET /api/csrf` or
 * `GET /api/me`) for clients that send neither.
 */
import { type Request, Router } from 'express'
import { listSessions, logIn, loginThrottle, logOut, requireAuth, revokeSession } from '../../src/index.ts'
import { visitorOf } from './pages/layout.ts'
import { checkPassword } from './routes/auth.ts'
import { normalizeEmail, type Users } from './users.ts'

const text = (value: unknown) => (typeof value === 'string' ? value : '')

export function apiRoutes(users: Users): Router {
  const api = Router()
  api.use((_req, res, next) => {
    res.set('Cache-Control', 'no-store')
    next()
  })

  /** A token for clients without Sec-Fetch-Site or Origin (scripts), before they sign in. */
  api.get('/csrf', (req, res) => {
    res.json({ csrfToken: req.csrfToken() })
  })

  api.post('/login', loginThrottle({ account: (req) => req.body?.email }), async (req, res) => {
    const user = await checkPassword(users, normalizeEmail(text(req.body?.email)), text(req.body?.password))
    if (!user) return res.status(401).json({ error: 'Wrong email or password' })
    await logIn(req, user.id, { remember: req.body?.remember === true })
    res.json({ id: user.id, email: user.email })
  })

  api.get('/me', requireAuth(), (req: Request, res) => {
    const user = visitorOf(res).user!
    res.json({ id: user.id, email: user.email, csrfToken: req.csrfToken() })
  })

  api.post('/logout', async (req, res) => {
    await logOut(req, res)
    res.json({ ok: true })
  })

  api.get('/sessions', requireAuth(), async (req, res) => {
    res.json(await listSessions(req))
  })

  api.delete('/sessions/:handle', requireAuth(), async (req, res) => {
    if (await revokeSession(req, String(req.params.handle))) return res.status(204).end()
    res.status(404).json({ error: 'No such session' })
  })

  api.use((_req, res) => {
    res.status(404).json({ error: 'Not found' })
  })
  return api
}
