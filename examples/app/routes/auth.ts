/** Create account, Sign in, Confirm your password, Sign out. */
import { type Request, type Response, Router } from 'express'
import { hashPassword, listSessions, logIn, logOut, verifyPassword } from '../../../src/index.ts'
import { confirmPage, type LoginForm, loginPage, PASSWORD_MAX, PASSWORD_MIN, registerPage } from '../pages/auth.ts'
import { sendPage, visitorOf } from '../pages/layout.ts'
import { fromNow } from '../pages/parts.ts'
import { normalizeEmail, type Users } from '../users.ts'
import { safeNext, signedIn, throttle } from './guards.ts'

const text = (value: unknown) => (typeof value === 'string' ? value : '')
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/
/** The 429 message; one reading of the clock, so 60 seconds reads "in 1 minute", never "in 60 seconds". */
function tooMany(retryAfter: number): string {
  const now = Date.now()
  return `Too many attempts. Try again ${fromNow(now + retryAfter * 1000, now)}.`
}

/** Checks a new password; the message to show, or undefined when it will do. */
export function passwordProblem(password: string): string | undefined {
  if (password.length < PASSWORD_MIN) return `Use at least ${PASSWORD_MIN} characters.`
  if (password.length > PASSWORD_MAX) return `Use at most ${PASSWORD_MAX} characters.`
  return undefined
}

/** Verifies `password` for the account `email`: the user, or undefined (one verification either way). */
export async function checkPassword(users: Users, email: string, password: string) {
  const user = email ? await users.byEmail(email) : undefined
  if (password.length > PASSWORD_MAX) return undefined
  const { ok, needsRehash } = await verifyPassword(user?.passwordHash, password)
  if (!user || !ok) return undefined
  if (needsRehash) await users.setPasswordHash(user.id, await hashPassword(password))
  return user
}

export function authRoutes(users: Users): Router {
  const router = Router()

  const loginForm = (req: Request): LoginForm => ({
    email: text(req.body?.email),
    next: typeof req.query.next === 'string' ? req.query.next : undefined,
    remember: req.body?.remember === 'on',
  })
  const throttledLogin = (req: Request, res: Response, retryAfter: number) =>
    sendPage(res, 429, loginPage(visitorOf(res), { ...loginForm(req), error: tooMany(retryAfter) }))

  router.get('/register', (_req, res) => sendPage(res, 200, registerPage(visitorOf(res))))
  router.post(
    '/register',
    throttle({}, (_req, res, retryAfter) =>
      sendPage(res, 429, registerPage(visitorOf(res), { error: tooMany(retryAfter) })),
    ),
    async (req, res) => {
      const email = normalizeEmail(text(req.body?.email))
      const password = text(req.body?.password)
      const emailError =
        EMAIL.test(email) && email.length <= 254 ? undefined : 'Enter an email address, like ada@example.com.'
      const passwordError = passwordProblem(password)
      if (emailError || passwordError) {
        const form = { email, emailError, passwordError, error: 'Please correct the fields marked below.' }
        return sendPage(res, 422, registerPage(visitorOf(res), form))
      }
      const user = (await users.byEmail(email)) ? undefined : await users.add(email, await hashPassword(password))
      if (!user) {
        const taken = 'An account with this email already exists. Sign in instead, or use another email.'
        return sendPage(
          res,
          409,
          registerPage(visitorOf(res), { email, error: taken, emailError: 'This email is taken.' }),
        )
      }
      await logIn(req, user.id)
      req.session.flash = 'Welcome! Your account is ready.'
      res.redirect(303, '/dashboard')
    },
  )

  router.get('/login', (req, res) => {
    const visitor = visitorOf(res)
    if (visitor.user) return res.redirect(303, safeNext(req.query.next))
    sendPage(res, 200, loginPage(visitor, { next: loginForm(req).next }))
  })
  router.post('/login', throttle({ account: (req) => req.body?.email }, throttledLogin), async (req, res) => {
    const form = loginForm(req)
    const user = await checkPassword(users, normalizeEmail(form.email ?? ''), text(req.body?.password))
    if (!user) return sendPage(res, 401, loginPage(visitorOf(res), { ...form, error: 'Wrong email or password.' }))
    await logIn(req, user.id, { remember: form.remember })
    res.redirect(303, safeNext(form.next))
  })

  router.post('/logout', async (req, res) => {
    await logOut(req, res)
    req.session.flash = 'Signed out'
    res.redirect(303, '/')
  })

  const next = (req: Request) => safeNext(req.query.next)
  router.get('/confirm', signedIn('/confirm'), (req, res) => {
    sendPage(res, 200, confirmPage(visitorOf(res), { next: next(req) }))
  })
  router.post(
    '/confirm',
    signedIn('/confirm'),
    throttle({ account: (req) => (req as Request).res?.locals.visitor?.user?.email }, (req, res, retryAfter) =>
      sendPage(res, 429, confirmPage(visitorOf(res), { next: next(req), error: tooMany(retryAfter) })),
    ),
    async (req, res) => {
      const email = visitorOf(res).user?.email ?? ''
      const user = await checkPassword(users, email, text(req.body?.password))
      if (!user) return sendPage(res, 401, confirmPage(visitorOf(res), { next: next(req), error: 'Wrong password.' }))
      // A new sign-in with the password: fresh again. A remembered device stays remembered (with a new token).
      const current = (await listSessions(req)).find((device) => device.current)
      await logIn(req, user.id, { remember: current?.remembered ?? false })
      res.redirect(303, next(req))
    },
  )
  return router
}
