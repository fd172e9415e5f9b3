/** Dashboard, Your devices, Change password: the pages of a signed-in user. */
import { type Request, Router } from 'express'
import { hashPassword, listSessions, revokeOtherSessions, revokeSession, sessionInfo } from '../../../src/index.ts'
import { dashboardPage, devicesPage, passwordPage } from '../pages/account.ts'
import { sendPage, visitorOf } from '../pages/layout.ts'
import type { Users } from '../users.ts'
import { passwordProblem } from './auth.ts'
import { freshSignIn, signedIn } from './guards.ts'

/** A password entered longer ago than this is asked for again before it can be changed. */
const FRESH = 10 * 60_000

const current = async (req: Request) => (await listSessions(req)).find((device) => device.current)

export function accountRoutes(users: Users): Router {
  const router = Router()

  router.get('/dashboard', signedIn('/dashboard'), async (req, res) => {
    const now = Date.now()
    const info = sessionInfo(req)
    const device = await current(req)
    const facts = {
      signedInAt: info.authAt ?? now,
      createdAt: info.createdAt ?? now,
      idleExpiresAt: info.expiresAt ?? now,
      absoluteExpiresAt: info.absoluteExpiresAt ?? now,
      restored: info.restored,
      remembered: info.remembered,
      label: device?.label ?? 'Unknown device',
    }
    sendPage(res, 200, dashboardPage(visitorOf(res), facts))
  })

  router.get('/devices', signedIn('/devices'), async (req, res) => {
    sendPage(res, 200, devicesPage(visitorOf(res), await listSessions(req)))
  })
  router.post('/devices/sign-out-others', signedIn('/devices'), async (req, res) => {
    await revokeOtherSessions(req)
    req.session.flash = 'Signed out everywhere else'
    res.redirect(303, '/devices')
  })
  router.post('/devices/:handle/sign-out', signedIn('/devices'), async (req, res) => {
    const revoked = await revokeSession(req, String(req.params.handle))
    req.session.flash = revoked ? 'Device signed out' : 'That device was already signed out'
    res.redirect(303, '/devices')
  })

  router.get('/password', signedIn('/password'), freshSignIn(FRESH, '/password'), (_req, res) => {
    sendPage(res, 200, passwordPage(visitorOf(res)))
  })
  router.post('/password', signedIn('/password'), freshSignIn(FRESH, '/password'), async (req, res) => {
    const password = typeof req.body?.password === 'string' ? req.body.password : ''
    const passwordError = passwordProblem(password)
    const repeatError = !passwordError && req.body?.repeat !== password ? 'The two passwords differ.' : undefined
    if (passwordError || repeatError) {
      const form = { passwordError, repeatError, error: 'Please correct the fields marked below.' }
      return sendPage(res, 422, passwordPage(visitorOf(res), form))
    }
    const user = visitorOf(res).user!
    await users.setPasswordHash(user.id, await hashPassword(password))
    await revokeOtherSessions(req)
    req.session.flash = 'Password changed. Every other device was signed out.'
    res.redirect(303, '/dashboard')
  })
  return router
}
