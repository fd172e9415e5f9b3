// What the parent and the app server agree on: the variants, their command line, and the answers to expect.

export const VARIANTS = ['bare', 'noop', 'express-session', 'coatcheck'] as const
export type Variant = (typeof VARIANTS)[number]
export const BACKENDS = ['memory', 'redis', 'postgres', 'sqlite'] as const
export type Backend = (typeof BACKENDS)[number]

/** What a login stores besides the user id: a few small fields, about 200 bytes of session data in all. */
export const PROFILE = {
  name: 'Ada Lovelace',
  email: 'ada.lovelace@example.com',
  roles: ['reader', 'editor'],
  locale: 'en-GB',
  timeZone: 'Europe/London',
  theme: 'dark',
  plan: 'team',
  loggedInAt: 1_767_225_600_000,
}

/** The user every login stores. */
export const USER = 'u1'
/** What every authenticated `GET /me` answers. */
export const ME_BODY = JSON.stringify({ user: USER, name: PROFILE.name })
/** What every login and cart write answers. */
export const OK_BODY = JSON.stringify({ ok: true })

/** The app server's command line, parsed. */
export interface AppArgs {
  variant: Variant
  backend: Backend
  rolling: boolean
  /** A URL (Redis, PostgreSQL) or a file path (SQLite); empty for memory. */
  where: string
}

export function appArgs({ variant, backend, rolling, where }: AppArgs): string[] {
  return [variant, backend, rolling ? 'on' : 'off', where]
}

export function parseAppArgs([variant, backend, rolling, where = '']: string[]): AppArgs {
  if (!VARIANTS.includes(variant as Variant)) throw new TypeError(`no variant ${variant}; one of ${VARIANTS}`)
  if (!BACKENDS.includes(backend as Backend)) throw new TypeError(`no backend ${backend}; one of ${BACKENDS}`)
  if (rolling !== 'on' && rolling !== 'off') throw new TypeError(`rolling must be on or off, got ${rolling}`)
  return { variant: variant as Variant, backend: backend as Backend, rolling: rolling === 'on', where }
}

/**
 * The Cookie header the bare servers get: the same size and shape as a coatcheck session cookie, so every variant
 * parses the same request bytes.
 */
export const BARE_COOKIE = `sid=s%3A${'A'.repeat(43)}.${'B'.repeat(43)}`
