/** `coatcheck sessions list` and `coatcheck sessions revoke`. */
import { destroyUser } from '../../auth/user.ts'
import { toUserId } from '../../core/keys.ts'
import { shortId } from '../../core/token.ts'
import type { SessionEntry } from '../../stores/types.ts'
import { intValue } from '../args.ts'
import { type Command, type Context, JSON_OPTION, STORE_OPTIONS } from '../command.ts'
import { Failure, UsageError } from '../exit.ts'
import { count, printable, sessionView, tableHeader, tableRow } from '../format.ts'
import { scannerOf } from '../scan/index.ts'

/** `--user`, as the store keys it (the rule of `logIn`), or undefined when not given. */
function userOf(context: Context, command: string): string | undefined {
  const value = context.string('user')
  if (value === undefined) return undefined
  try {
    return toUserId(value)
  } catch (error) {
    throw new UsageError(`--user: ${(error as Error).message.replace(/^coatcheck: /, '')}`, command)
  }
}

/** The live sessions of one user through the store contract, most recently seen first. */
async function sessionsOf(context: Context, userId: string): Promise<SessionEntry[]> {
  const { store } = await context.open()
  const now = Date.now()
  const entries = await store.listByUser(userId)
  return entries
    .filter((e) => e.record.userId === userId && e.record.expiresAt > now)
    .sort((a, b) => b.record.lastSeenAt - a.record.lastSeenAt)
}

export const list: Command = {
  name: 'sessions list',
  summary: 'List live sessions: device, IP, created, last seen, expires',
  usage: '--store URL [--user ID] [--json] [--page-size N] [--verbose]',
  description: `Lists the live sessions of the store, or only those of one user with --user. A session shows as a
short handle (what "sessions revoke --handle" takes, the same as the app's devices page), its user ("-" when
anonymous), device (from the User-Agent), IP, and when it was created, last seen and expires, in UTC. Never a
token, a store key or session data. --json writes one JSON object per line instead of the table.

Without --user, the whole store is read a page at a time and each page is written before the next is read, so the
memory used stays the same however many sessions there are: SQLite and PostgreSQL by keyset pagination on the
primary key; Redis by SCAN over the prefix's session keys (on every master of a cluster), which walks the whole
keyspace in small steps: fine for an admin tool, not for a request path. A session created or ended meanwhile may
or may not be listed. With --user, the user's own index is read (the store's listByUser: O(their sessions)), most
recently seen first.`,
  options: {
    ...STORE_OPTIONS,
    user: { type: 'string', value: 'ID', help: "Only this user's sessions" },
    ...JSON_OPTION,
    'page-size': {
      type: 'string',
      value: 'N',
      help: 'Sessions read per page (Redis: the SCAN COUNT hint), 1 to 10000 (default 500)',
    },
    verbose: { type: 'boolean', help: 'Report each page read on stderr' },
  },
  async run(context) {
    const userId = userOf(context, this.name)
    const pageSize = intValue('page-size', context.string('page-size'), 500, 10_000)
    const json = context.flag('json')
    const opened = await context.open()
    const write = (entry: SessionEntry) =>
      json ? context.out.json(sessionView(entry)) : context.out.line(tableRow(sessionView(entry)))
    if (!json) await context.out.line(tableHeader())
    let total = 0
    if (userId !== undefined) {
      for (const entry of await sessionsOf(context, userId)) {
        total++
        await write(entry)
      }
    } else {
      let pages = 0
      for await (const page of scannerOf(opened).pages(pageSize)) {
        pages++
        total += page.length
        if (context.flag('verbose')) context.note(`page ${pages}: ${count(page.length, 'session')}, ${total} so far`)
        for (const entry of page) await write(entry)
      }
      if (context.flag('verbose')) context.note(`done: ${count(pages, 'page')}, ${count(total, 'session')}`)
    }
    if (!json && total === 0) await context.out.line('(no live sessions)')
  },
}

export const revoke: Command = {
  name: 'sessions revoke',
  summary: "Sign a user out: one session by its handle, or all of the user's sessions",
  usage: '--user ID (--handle H | --all) --store URL [--json]',
  description: `Ends sessions of one user at once, on every app instance that shares the store: their next request
is anonymous. --handle ends one session (its handle comes from "sessions list --user ID") and the remember-me token
it was opened with, if any, so the device is not signed in again. --all ends every session of the user and every
remember-me token: after a password reset, or to lock an account. Ending sessions that are already gone is not an
error; a handle that matches none of the user's live sessions is (exit 1).`,
  options: {
    ...STORE_OPTIONS,
    user: { type: 'string', value: 'ID', help: 'The user (required)' },
    handle: { type: 'string', value: 'H', help: 'The session to end, by the handle "sessions list" shows' },
    all: { type: 'boolean', help: 'End every session and remember-me token of the user' },
    ...JSON_OPTION,
  },
  async run(context) {
    const userId = userOf(context, this.name)
    if (userId === undefined) throw new UsageError('--user ID is required', this.name)
    const handle = context.string('handle')
    const all = context.flag('all')
    if (handle !== undefined && all) throw new UsageError('--handle and --all exclude each other', this.name)
    if (handle === undefined && !all) {
      throw new UsageError('say which sessions: --handle H (one, from "sessions list --user ID") or --all', this.name)
    }
    const { store } = await context.open()
    const who = `user ${printable(userId)}`
    if (all) {
      const revoked = await destroyUser(store, userId)
      if (context.flag('json')) return context.out.json({ userId, revoked })
      return context.out.line(`Revoked ${count(revoked, 'session')} of ${who}, and their remember-me tokens.`)
    }
    const entry = (await sessionsOf(context, userId)).find((e) => shortId(e.key) === handle)
    if (entry === undefined) {
      throw new Failure(
        `${who} has no live session with handle ${printable(handle!)}; "sessions list --user" shows them`,
      )
    }
    const rememberId = entry.record.meta.rememberId
    if (typeof rememberId === 'string') await store.tokens.destroy(rememberId)
    const revoked = (await store.destroy(entry.key)) ? 1 : 0
    if (context.flag('json')) return context.out.json({ userId, handle, revoked })
    const token = typeof rememberId === 'string' ? ' and its remember-me token' : ''
    await context.out.line(`Revoked session ${handle} of ${who}${token}.`)
  },
}
