/**
 * Reads the Redis session hashes `<prefix>s:<key>` (layout in `stores/redis/index.ts`) by SCAN over the prefix, on
 * every master of a cluster: the store itself never scans (it lists a user's sessions through their index), but an
 * admin tool that wants every session has no index to read. SCAN walks the whole keyspace in small steps without
 * blocking the server; a session created or deleted meanwhile may or may not be listed, none is listed twice.
 */
import { toSession } from '../../stores/redis/records.ts'
import type { SessionEntry } from '../../stores/types.ts'
import type { Scanner } from './index.ts'
import { Tally } from './stats.ts'

/** The slice of a node-redis client used here. */
interface Node {
  sendCommand(args: string[]): Promise<unknown>
}

/** Every session field but the data (`d:<name>`), which is never shown. */
const FIELDS = ['userId', 'meta', 'createdAt', 'lastSeenAt', 'expiresAt', 'absoluteExpiresAt']

/** `masters` gives one client per node to scan: the client itself, or each master of a cluster. */
export function redisScanner(masters: () => Promise<Node[]>, prefix: string): Scanner {
  const keyPrefix = `${prefix}s:`
  const pattern = `${keyPrefix.replace(/[*?[\]\\]/g, '\\$&')}*`

  async function* pages(pageSize: number): AsyncGenerator<SessionEntry[]> {
    const now = Date.now()
    for (const node of await masters()) {
      let cursor = '0'
      do {
        const scan = ['SCAN', cursor, 'MATCH', pattern, 'COUNT', String(pageSize), 'TYPE', 'hash']
        const [next, keys] = (await node.sendCommand(scan)) as [unknown, unknown[]]
        cursor = String(next)
        // The keys of this node's SCAN live on this node, so it answers their HMGETs too (pipelined by the client).
        const replies = await Promise.all(keys.map((key) => node.sendCommand(['HMGET', String(key), ...FIELDS])))
        yield keys.flatMap((key, i) => {
          const values = replies[i] as unknown[]
          // A hash with no createdAt is gone (it expired between SCAN and HMGET) or is not a session.
          if (values[2] == null) return []
          const fields = FIELDS.flatMap((field, j): [string, string][] =>
            values[j] == null ? [] : [[field, String(values[j])]],
          )
          const record = toSession(fields)!
          if (record.expiresAt <= now) return []
          return [{ key: String(key).slice(keyPrefix.length), record }]
        })
      } while (cursor !== '0')
    }
  }

  return {
    pages,
    async stats() {
      const tally = new Tally(Date.now())
      for await (const page of pages(1000)) {
        for (const { record } of page) tally.add(record.userId, record.createdAt)
      }
      return tally.stats
    },
  }
}
