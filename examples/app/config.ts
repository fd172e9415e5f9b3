/**
 * The app's configuration, from the environment:
 *
 * - `PORT` (3000; 0 picks a free port) and `HOST` (127.0.0.1).
 * - `STORE_URL`: where sessions and users live. `sqlite:<DATA_DIR>/app.db` by default, or `redis://…`,
 *   `redis+cluster://host:port,…`, `postgres://…`.
 * - `DATA_DIR` (`data`): the SQLite file's default home and, in development, the generated secret's.
 * - `SESSION_SECRET`: at least 32 characters; several separated by commas rotate (the first signs). In development a
 *   missing one is generated once into `<DATA_DIR>/session-secret`; in production a missing one is an error.
 * - `NODE_ENV`: `production` or anything else (development).
 * - `TRUST_PROXY`: `false` (default), `true`, or the number of proxy hops in front of the app.
 * - `IDLE_TIMEOUT` and `ABSOLUTE_TIMEOUT`: session lifetimes such as `30m`, `24h`, `7d` (`s`, `m`, `h`, `d`);
 *   the library's defaults (24 h, 7 days) when unset.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'

export interface Config {
  port: number
  host: string
  storeUrl: string
  production: boolean
  secret: string[]
  /** How the secret was found, for the start-up banner. */
  secretSource: string
  trustProxy: boolean | number
  idleTimeout: number | undefined
  absoluteTimeout: number | undefined
}

/** A configuration the app cannot start with; its message says what to set. */
export class ConfigError extends Error {}

type Env = Record<string, string | undefined>

export function loadConfig(env: Env = process.env): Config {
  const production = env.NODE_ENV === 'production'
  const dataDir = env.DATA_DIR || 'data'
  const { secret, secretSource } = sessionSecret(env.SESSION_SECRET, production, dataDir)
  return {
    port: port(env.PORT),
    host: env.HOST || '127.0.0.1',
    storeUrl: env.STORE_URL || `sqlite:${join(dataDir, 'app.db')}`,
    production,
    secret,
    secretSource,
    trustProxy: trustProxy(env.TRUST_PROXY),
    idleTimeout: duration('IDLE_TIMEOUT', env.IDLE_TIMEOUT),
    absoluteTimeout: duration('ABSOLUTE_TIMEOUT', env.ABSOLUTE_TIMEOUT),
  }
}

function port(value: string | undefined): number {
  if (value === undefined || value === '') return 3000
  const n = Number(value)
  if (!Number.isInteger(n) || n < 0 || n > 65_535) throw new ConfigError(`PORT must be 0 to 65535, not "${value}"`)
  return n
}

function sessionSecret(value: string | undefined, production: boolean, dataDir: string) {
  if (value) {
    const secret = value.split(',').map((s) => s.trim())
    if (secret.some((s) => s.length < 32)) throw new ConfigError('SESSION_SECRET must be at least 32 characters')
    return { secret, secretSource: 'SESSION_SECRET' }
  }
  if (production) {
    throw new ConfigError(
      'SESSION_SECRET is required when NODE_ENV=production; make one with: ' +
        `node -e "console.log(crypto.randomBytes(32).toString('base64url'))"`,
    )
  }
  // Development: a secret kept beside the data, so sessions survive a restart as they would in production.
  const file = join(dataDir, 'session-secret')
  if (existsSync(file))
    return { secret: [readFileSync(file, 'utf8').trim()], secretSource: `${file} (development only)` }
  mkdirSync(dataDir, { recursive: true })
  writeFileSync(file, `${randomBytes(32).toString('base64url')}\n`, { mode: 0o600 })
  return {
    secret: [readFileSync(file, 'utf8').trim()],
    secretSource: `${file} (generated now; development only, set SESSION_SECRET in production)`,
  }
}

function trustProxy(value: string | undefined): boolean | number {
  if (value === undefined || value === '' || value === 'false') return false
  if (value === 'true') return true
  const hops = Number(value)
  if (Number.isInteger(hops) && hops >= 0) return hops
  throw new ConfigError(`TRUST_PROXY must be true, false or a number of hops, not "${value}"`)
}

const UNITS: Record<string, number> = { s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

function duration(name: string, value: string | undefined): number | undefined {
  if (value === undefined || value === '') return undefined
  const match = /^(\d+)([smhd])$/.exec(value.trim())
  if (!match || Number(match[1]) === 0) throw new ConfigError(`${name} must look like 30m, 24h or 7d, not "${value}"`)
  return Number(match[1]) * UNITS[match[2]!]!
}
