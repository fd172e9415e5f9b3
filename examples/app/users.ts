/**
 * The app's user accounts, in the same database as the sessions: a table in the SQLite file (a second `node:sqlite`
 * connection; WAL lets both write), two hashes on Redis (one key each, so it works on a cluster too), a table on
 * PostgreSQL through the store's pool. Emails are kept trimmed and lower-cased, and are unique.
 */
import { randomUUID } from 'node:crypto'
import type { DatabaseSync } from 'node:sqlite'
import type { OpenedStore } from '../../src/cli/store-url.ts'

export interface User {
  id: string
  email: string
  passwordHash: string
  createdAt: number
}

export interface Users {
  /** Adds a user; undefined when the email is taken. */
  add(email: string, passwordHash: string): Promise<User | undefined>
  byEmail(email: string): Promise<User | undefined>
  byId(id: string): Promise<User | undefined>
  setPasswordHash(id: string, passwordHash: string): Promise<void>
}

export const normalizeEmail = (email: string) => email.trim().toLowerCase()

const newUser = (email: string, passwordHash: string): User => ({
  id: randomUUID(),
  email: normalizeEmail(email),
  passwordHash,
  createdAt: Date.now(),
})

/** The users that live beside `opened`'s sessions, through its client (which `opened.close()` closes). */
export async function openUsers(opened: OpenedStore): Promise<Users> {
  switch (opened.kind) {
    case 'sqlite':
      return sqliteUsers(opened.client)
    case 'postgres':
      return postgresUsers(opened.client)
    case 'redis':
      return redisUsers((_key, args) => opened.client.sendCommand(args))
    case 'redis-cluster':
      return redisUsers((key, args) => opened.client.sendCommand(key, args[0] === 'HGET', args))
  }
}

interface Row {
  id: string
  email: string
  password_hash: string
  created_at: number | string
}

const fromRow = (row: Row | undefined): User | undefined =>
  row && { id: row.id, email: row.email, passwordHash: row.password_hash, createdAt: Number(row.created_at) }

const TABLE = `CREATE TABLE IF NOT EXISTS app_users (
  id TEXT PRIMARY KEY, email TEXT NOT NULL UNIQUE, password_hash TEXT NOT NULL, created_at BIGINT NOT NULL)`

function sqliteUsers(db: DatabaseSync): Users {
  db.exec(TABLE)
  const insert = db.prepare('INSERT INTO app_users VALUES (?, ?, ?, ?) ON CONFLICT (email) DO NOTHING')
  const byEmail = db.prepare('SELECT * FROM app_users WHERE email = ?')
  const byId = db.prepare('SELECT * FROM app_users WHERE id = ?')
  const setHash = db.prepare('UPDATE app_users SET password_hash = ? WHERE id = ?')
  return {
    async add(email, passwordHash) {
      const user = newUser(email, passwordHash)
      const { changes } = insert.run(user.id, user.email, user.passwordHash, user.createdAt)
      return changes === 1 ? user : undefined
    },
    byEmail: async (email) => fromRow(byEmail.get(normalizeEmail(email)) as Row | undefined),
    byId: async (id) => fromRow(byId.get(id) as Row | undefined),
    async setPasswordHash(id, passwordHash) {
      setHash.run(passwordHash, id)
    },
  }
}

async function postgresUsers(pool: Extract<OpenedStore, { kind: 'postgres' }>['client']): Promise<Users> {
  await pool.query(TABLE)
  const one = async (text: string, values: unknown[]) =>
    fromRow((await pool.query(text, values)).rows[0] as Row | undefined)
  return {
    add(email, passwordHash) {
      const user = newUser(email, passwordHash)
      const values = [user.id, user.email, user.passwordHash, user.createdAt]
      return one('INSERT INTO app_users VALUES ($1, $2, $3, $4) ON CONFLICT (email) DO NOTHING RETURNING *', values)
    },
    byEmail: (email) => one('SELECT * FROM app_users WHERE email = $1', [normalizeEmail(email)]),
    byId: (id) => one('SELECT * FROM app_users WHERE id = $1', [id]),
    async setPasswordHash(id, passwordHash) {
      await pool.query('UPDATE app_users SET password_hash = $1 WHERE id = $2', [passwordHash, id])
    },
  }
}

/** Sends one command whose only key is `key`. */
type Send = (key: string, args: string[]) => Promise<unknown>

// `app:users`: email -> the user as JSON; `app:user-emails`: id -> email. One key per command: fine on a cluster.
const BY_EMAIL = 'app:users'
const EMAIL_OF = 'app:user-emails'

function redisUsers(send: Send): Users {
  const get = async (key: string, field: string) => {
    const value = await send(key, ['HGET', key, field])
    return typeof value === 'string' ? value : undefined
  }
  const byEmail = async (email: string) => {
    const json = await get(BY_EMAIL, normalizeEmail(email))
    return json === undefined ? undefined : (JSON.parse(json) as User)
  }
  const byId = async (id: string) => {
    const email = await get(EMAIL_OF, id)
    return email === undefined ? undefined : byEmail(email)
  }
  return {
    async add(email, passwordHash) {
      const user = newUser(email, passwordHash)
      if (Number(await send(BY_EMAIL, ['HSETNX', BY_EMAIL, user.email, JSON.stringify(user)])) !== 1) return undefined
      await send(EMAIL_OF, ['HSET', EMAIL_OF, user.id, user.email])
      return user
    },
    byEmail,
    byId,
    async setPasswordHash(id, passwordHash) {
      const user = await byId(id)
      if (user) await send(BY_EMAIL, ['HSET', BY_EMAIL, user.email, JSON.stringify({ ...user, passwordHash })])
    },
  }
}
