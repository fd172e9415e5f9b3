/**
 * What the store contract does not offer and an admin tool needs: every live session of a store, a page at a time,
 * and counts over all of them. Implemented per backend against its documented layout (see each file), read-only.
 */
import type { SessionEntry } from '../../stores/types.ts'
import type { OpenedStore } from '../store-url.ts'
import { postgresScanner } from './postgres.ts'
import { redisScanner } from './redis.ts'
import { sqliteScanner } from './sqlite.ts'
import type { Stats } from './stats.ts'

/** Reads a whole store. Records come without their `data` (never shown, possibly large). */
export interface Scanner {
  /**
   * Every live session, in pages of about `pageSize` (a Redis page is one SCAN reply, so it may be smaller, even
   * empty), in no particular order. Only one page is held at a time.
   */
  pages(pageSize: number): AsyncGenerator<SessionEntry[]>
  stats(): Promise<Stats>
}

export function scannerOf(opened: OpenedStore): Scanner {
  switch (opened.kind) {
    case 'sqlite':
      return sqliteScanner(opened.client, opened.prefix)
    case 'postgres':
      return postgresScanner(opened.client, opened.prefix)
    case 'redis':
      return redisScanner(async () => [opened.client], opened.prefix)
    case 'redis-cluster': {
      const cluster = opened.client
      const masters = () => Promise.all(cluster.masters.map((master) => cluster.nodeClient(master)))
      return redisScanner(masters, opened.prefix)
    }
  }
}
