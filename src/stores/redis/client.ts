import { createHash } from 'node:crypto'
import { invalidOption } from '../../errors.ts'

/** The slice of an ioredis `Redis` or `Cluster` (or iovalkey) the store uses: it routes by the command's key itself. */
export interface IoredisLike {
  call(command: string, ...args: string[]): Promise<unknown>
}

/** The slice of a node-redis client (v5+) the store uses. */
export interface NodeRedisClientLike {
  sendCommand(args: string[]): Promise<unknown>
}

/** The slice of a node-redis cluster (v5+) the store uses: `getMasters` tells it apart from a single client. */
export interface NodeRedisClusterLike {
  sendCommand(firstKey: string, isReadonly: boolean, args: string[]): Promise<unknown>
  getMasters(): unknown
}

/**
 * The slice of a node-redis Sentinel client (`createSentinel`, v5+) the store uses: `getMasterNode` tells it apart from
 * a single client. Commands go to the primary the Sentinels name, never to a replica.
 */
export interface NodeRedisSentinelLike {
  sendCommand(isReadonly: boolean | undefined, args: string[]): Promise<unknown>
  getMasterNode(): unknown
}

/**
 * A Redis client the store accepts: node-redis client, cluster or Sentinel client (v5+), ioredis `Redis` (standalone or
 * with `sentinels`) or `Cluster`, iovalkey.
 */
export type RedisClient = IoredisLike | NodeRedisClientLike | NodeRedisClusterLike | NodeRedisSentinelLike

/** Sends one command whose only key is `key`, so a cluster client routes it to the node that owns that key's slot. */
export type Send = (key: string, args: string[]) => Promise<unknown>

interface Emitter {
  on(event: 'error', listener: (error: unknown) => void): unknown
  listenerCount(event: 'error'): number
}

const has = (client: object, name: string) => typeof (client as Record<string, unknown>)[name] === 'function'

/**
 * One `send` over whichever client the app passed in, told apart by shape. Every command goes to the key's master:
 * a session read from a lagging replica could revive a logged-out session.
 */
export function adapt(client: unknown): Send {
  const send = route(client)
  const down = disconnected(client as ClientState)
  return (key, args) =>
    down() ? Promise.reject(new Error('coatcheck: the Redis client is reconnecting')) : send(key, args)
}

function route(client: unknown): Send {
  if (typeof client !== 'object' || client === null) throw invalidOption('client', 'must be a Redis client')
  // node-redis: `isOpen` turns true at `connect()` and stays so while it reconnects; before that, every command
  // would wait in the offline queue forever.
  if ((client as ClientState).isOpen === false) {
    throw invalidOption(
      'client',
      'is a node-redis client that is neither open nor opening; call `await client.connect()` first',
    )
  }
  if (has(client, 'call')) {
    const c = client as IoredisLike
    return (_key, [command, ...args]) => c.call(command!, ...args)
  }
  if (has(client, 'sendCommand') && has(client, 'getMasters')) {
    const c = client as NodeRedisClusterLike
    return (key, args) => c.sendCommand(key, false, args)
  }
  if (has(client, 'sendCommand') && has(client, 'getMasterNode')) {
    const c = client as NodeRedisSentinelLike
    return (_key, args) => c.sendCommand(false, args)
  }
  if (has(client, 'sendCommand')) {
    const c = client as NodeRedisClientLike
    return (_key, args) => c.sendCommand(args)
  }
  throw invalidOption(
    'client',
    'must be a node-redis client, cluster or Sentinel client (v5+), or an ioredis Redis or Cluster',
  )
}

interface ClientState {
  /** node-redis: connect() was called and close() was not. */
  isOpen?: unknown
  /** node-redis: the connection is up. */
  isReady?: unknown
  /** ioredis: 'wait', 'connecting', 'connect', 'ready', 'reconnecting', 'close', 'end'... */
  status?: unknown
}

/**
 * Whether the client has lost its connection and is trying to get it back. Clients queue commands meanwhile (node-redis
 * until it reconnects, however long that takes), so every request would wait for `storeTimeout`, pile up in that
 * queue and, on reconnection, replay writes the engine already reported as failed: the store rejects them at once
 * instead. A node-redis client that has not been ready yet (its first connection) is left to queue.
 */
function disconnected(client: ClientState): () => boolean {
  if (typeof client.isReady === 'boolean') {
    let wasReady = false
    return () => {
      if (client.isReady === true) wasReady = true
      return wasReady && client.isOpen === true && client.isReady === false
    }
  }
  if (typeof client.status === 'string') return () => client.status === 'reconnecting'
  return () => false
}

/**
 * node-redis emits 'error' on every failed (re)connection, and an 'error' event nobody listens to kills the process:
 * a Redis restart would take the app down with it. When the app attached no listener of its own, one is added that
 * reports the first error as a process warning; the commands themselves still reject, and the engine answers 503.
 */
export function guardErrors(client: unknown): void {
  const emitter = client as Partial<Emitter>
  if (typeof emitter.on !== 'function' || typeof emitter.listenerCount !== 'function') return
  if (emitter.listenerCount('error') > 0) return
  let warned = false
  emitter.on('error', (error) => {
    if (warned) return
    warned = true
    process.emitWarning(
      `Redis client error (${error instanceof Error ? error.message : String(error)}); ` +
        "attach a client 'error' listener to handle these yourself",
      { code: 'COATCHECK_REDIS_ERROR' },
    )
  })
}

/** A Lua script run by EVALSHA, falling back to EVAL on a node that has not cached it yet (NOSCRIPT). */
export interface Script {
  run(key: string, args: (string | number)[]): Promise<unknown>
}

/** Binds `source` to `send`. Every script touches exactly one key, so it runs on one node even in a cluster. */
export function script(send: Send, source: string): Script {
  const sha = createHash('sha1').update(source).digest('hex')
  return {
    async run(key, args) {
      const rest = [key, ...args.map(String)]
      try {
        return await send(key, ['EVALSHA', sha, '1', ...rest])
      } catch (error) {
        if (!(error instanceof Error) || !error.message.startsWith('NOSCRIPT')) throw error
        return send(key, ['EVAL', source, '1', ...rest])
      }
    },
  }
}

/** Whether `error` is an error reply of the server (`ERR unknown command`, `NOPERM ...`), not a connection failure. */
export function isReplyError(error: unknown): boolean {
  return error instanceof Error && /^[A-Z][A-Z_]+ /.test(error.message)
}

/** Field/value pairs from an HGETALL reply, whichever shape the client gives it (flat array, Map, or object). */
export function pairs(reply: unknown): [string, string][] {
  if (reply instanceof Map) return [...reply].map(([k, v]) => [String(k), String(v)])
  if (Array.isArray(reply)) {
    const out: [string, string][] = []
    for (let i = 0; i + 1 < reply.length; i += 2) out.push([String(reply[i]), String(reply[i + 1])])
    return out
  }
  if (typeof reply === 'object' && reply !== null) return Object.entries(reply).map(([k, v]) => [k, String(v)])
  return []
}
