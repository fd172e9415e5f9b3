/** Runs the `coatcheck` CLI as users do, as a child process (Node 24 runs src/cli/main.ts directly), and seeds stores. */
import { type ChildProcessWithoutNullStreams, execFile, spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { hashedKey, newToken } from '../../src/core/token.ts'
import type { CoatcheckStore, SessionMeta, SessionRecord, TokenRecord } from '../../src/stores/types.ts'

export const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url))
export const HOUR = 3_600_000
export const DAY = 24 * HOUR
export const CHROME_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0 Safari/537.36'
export const FIREFOX_MAC = 'Mozilla/5.0 (Macintosh; Intel Mac OS X 14.6; rv:140.0) Gecko/20100101 Firefox/140.0'

export interface Result {
  code: number
  stdout: string
  stderr: string
}

/** The environment of a run: this one without STORE_URL (a test that wants it passes it). */
function envOf(env: Record<string, string> = {}): NodeJS.ProcessEnv {
  const { STORE_URL: _, ...rest } = process.env
  return { ...rest, ...env }
}

/** Runs `coatcheck ...args` to its end. */
export function coatcheck(args: string[], env?: Record<string, string>): Promise<Result> {
  return new Promise((resolve) => {
    execFile(
      process.execPath,
      [MAIN, ...args],
      { env: envOf(env), timeout: 60_000, maxBuffer: 64 << 20 },
      (error, stdout, stderr) => {
        const code = error ? (typeof error.code === 'number' ? error.code : -1) : 0
        resolve({ code, stdout, stderr })
      },
    )
  })
}

/** Starts `coatcheck ...args` and hands over its streams. */
export function spawnCoatcheck(args: string[]): ChildProcessWithoutNullStreams {
  return spawn(process.execPath, [MAIN, ...args], { env: envOf() })
}

/** The JSON lines of a `--json` listing. */
export const jsonLines = (stdout: string) =>
  stdout
    .split('\n')
    .filter(Boolean)
    .map((line) => JSON.parse(line) as Record<string, unknown>)

export interface SeedOptions {
  userId?: string | null
  ua?: string | null
  ip?: string
  /** How long ago it was created. Default 0. */
  age?: number
  /** How long ago it was last seen. Default 0. */
  idle?: number
  /** Until its deadline; negative for one already past. Default one day. */
  ttl?: number
  meta?: SessionMeta
}

export function sessionRecord(options: SeedOptions = {}): SessionRecord {
  const now = Date.now()
  const meta: SessionMeta = { authAt: now, ip: options.ip ?? '203.0.113.7', ua: options.ua ?? CHROME_LINUX }
  return {
    data: { cart: '["secret-cart-item"]' },
    userId: options.userId ?? null,
    meta: { ...meta, ...options.meta },
    createdAt: now - (options.age ?? 0),
    lastSeenAt: now - (options.idle ?? 0),
    expiresAt: now + (options.ttl ?? DAY),
    absoluteExpiresAt: now + 7 * DAY,
  }
}

/** Stores one session under a new key (as the engine makes them) and resolves that key. */
export async function seed(store: CoatcheckStore, options: SeedOptions = {}): Promise<string> {
  const key = hashedKey(newToken())
  await store.create(key, sessionRecord(options))
  return key
}

/** Stores `n` sessions, a few at a time. */
export async function seedMany(store: CoatcheckStore, n: number, options: SeedOptions = {}): Promise<void> {
  for (let i = 0; i < n; i += 100) {
    await Promise.all(Array.from({ length: Math.min(100, n - i) }, () => seed(store, options)))
  }
}

/** A remember-me token of `userId`, as the store contract has it today. */
export function tokenRecord(userId: string): TokenRecord {
  const now = Date.now()
  const record = { userId, hash: 'h', meta: {}, previousHash: null, rotatedAt: null, createdAt: now }
  return { ...record, expiresAt: now + 30 * DAY } as TokenRecord
}
