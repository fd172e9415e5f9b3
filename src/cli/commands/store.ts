/** The commands on a whole store: `prune`, `stats`, `migrate`. */
import { type Command, JSON_OPTION, STORE_OPTIONS } from '../command.ts'
import { count } from '../format.ts'
import { scannerOf } from '../scan/index.ts'

export const prune: Command = {
  name: 'prune',
  summary: 'Delete expired sessions, remember-me tokens and rate-limit counters',
  usage: '--store URL [--json]',
  description: `Deletes what has expired, now, instead of waiting for the store's own timer (SQLite and PostgreSQL
prune every minute while an app runs). Expired sessions are never served either way: this only frees the space.
Redis expires every record itself (TTL), so there is nothing to do. --json writes {"removed": N}.`,
  options: { ...STORE_OPTIONS, ...JSON_OPTION },
  async run(context) {
    const opened = await context.open()
    const removed = await opened.store.prune()
    if (context.flag('json')) return context.out.json({ removed })
    if (opened.kind === 'redis' || opened.kind === 'redis-cluster') {
      return context.out.line('Redis expires sessions, tokens and counters itself (TTL): nothing to prune.')
    }
    await context.out.line(`Removed ${count(removed, 'expired session')} (and expired tokens and counters).`)
  },
}

export const stats: Command = {
  name: 'stats',
  summary: 'Count live sessions and users, logged in and anonymous, by age',
  usage: '--store URL [--json]',
  description: `Counts the live sessions: logged in and anonymous, the distinct users they belong to, and how old
they are (since created: under 1 hour, 1 hour to 1 day, 1 to 7 days, older). SQLite and PostgreSQL count in one
query; Redis scans the prefix's session keys (SCAN, as "sessions list" does) and keeps only the set of user IDs
seen. --json writes one document:
  {"sessions":N,"loggedIn":N,"anonymous":N,"users":N,"age":{"under1h":N,"under1d":N,"under7d":N,"older":N}}`,
  options: { ...STORE_OPTIONS, ...JSON_OPTION },
  async run(context) {
    const s = await scannerOf(await context.open()).stats()
    if (context.flag('json')) return context.out.json(s)
    const rows: [string, number][] = [
      ['Sessions', s.sessions],
      ['  logged in', s.loggedIn],
      ['  anonymous', s.anonymous],
      ['Users', s.users],
      ['Sessions by age', Number.NaN],
      ['  under 1 hour', s.age.under1h],
      ['  1 hour to 1 day', s.age.under1d],
      ['  1 to 7 days', s.age.under7d],
      ['  older', s.age.older],
    ]
    const width = Math.max(...rows.map(([, n]) => String(n).length))
    for (const [label, n] of rows) {
      await context.out.line(Number.isNaN(n) ? label : `${label.padEnd(20)}${String(n).padStart(width)}`)
    }
  },
}

export const migrate: Command = {
  name: 'migrate',
  summary: "Create or upgrade the store's tables",
  usage: '--store URL [--json]',
  description: `Creates the tables (sessions, remember-me tokens, rate-limit counters) and their indexes when they
are missing, and adds the columns a newer version needs to tables made by an older one. Idempotent; safe to run
from a deploy step while the app runs. PostgreSQL: the same migration the store runs at start-up unless
createTables is false, so run it as a role that may create tables. SQLite: creates the file (and its folder) when
missing. Redis keeps no schema: nothing to do. The other commands never create anything: on a store without its
tables they exit 4 (no SQLite file) or 5 (PostgreSQL tables missing) and point here.`,
  options: { ...STORE_OPTIONS, ...JSON_OPTION },
  async run(context) {
    const opened = await context.open({ create: true })
    const redis = opened.kind === 'redis' || opened.kind === 'redis-cluster'
    const tables = redis ? [] : ['sessions', 'tokens', 'counters'].map((name) => `${opened.prefix}${name}`)
    if (context.flag('json')) return context.out.json({ store: opened.kind, tables })
    if (redis) return context.out.line('Redis keeps no schema (keys are written as sessions are): nothing to migrate.')
    const name = opened.kind === 'sqlite' ? 'SQLite' : 'PostgreSQL'
    await context.out.line(`${name}: tables ${tables.join(', ')} are up to date.`)
  },
}
