import { CoatcheckError } from '../../errors.ts'
import { isReplyError, pairs, type Send } from './client.ts'

/**
 * The check of the server's `maxmemory-policy`, which revocation depends on: a user's sessions are found through
 * their per-user sorted set, so an evicted set means `revokeAllSessions` finds nothing while the sessions stay.
 *
 * `redisStore()` is synchronous, so the check runs on the store's first call, and every call waits for it: no command
 * of the store reaches Redis before it passed. It reads `CONFIG GET maxmemory-policy` from one node:
 * - `allkeys-*`: refused. Every call rejects with `STORE_UNSUPPORTED` naming the policy and the fix, and checks again,
 *   so fixing the server's policy heals the store without a restart.
 * - `volatile-*`: only keys with a TTL are evicted, so the per-user sets are written without one (pruned of dead
 *   members on every read and write, and deleted with their last member); evicted sessions are simply logged out.
 * - `noeviction` (the default): the sets expire with their last member.
 * - CONFIG refused (managed Redis, an ACL without `+config`): the policy is unknown and taken as `volatile-*`, the
 *   common managed default; an `allkeys-*` server then goes undetected.
 * A connection failure fails the call and the check is tried again on the next one. The policy is read once; change
 * it at runtime and the store does not notice.
 */
export class EvictionPolicy {
  /** Whether per-user indexes must carry no TTL. The safe answer until the check has run. */
  persistIndex = true
  readonly #send: Send
  #passed = false
  #pending: Promise<void> | undefined

  constructor(send: Send) {
    this.#send = send
  }

  /** Undefined once the check passed; otherwise the check (shared by every call that waits for it). */
  ready(): Promise<void> | undefined {
    if (this.#passed) return undefined
    this.#pending ??= this.#check().finally(() => {
      this.#pending = undefined
    })
    return this.#pending
  }

  /** `send`, held back until the check passed. */
  gate(send: Send): Send {
    return (key, args) => {
      const wait = this.ready()
      return wait ? wait.then(() => send(key, args)) : send(key, args)
    }
  }

  async #check(): Promise<void> {
    let policy: string | undefined
    try {
      const reply = await this.#send('', ['CONFIG', 'GET', 'maxmemory-policy'])
      policy = pairs(reply).find(([name]) => name === 'maxmemory-policy')?.[1]
    } catch (error) {
      if (!isReplyError(error)) throw error
    }
    if (policy?.startsWith('allkeys-')) {
      throw new CoatcheckError(
        'STORE_UNSUPPORTED',
        `coatcheck: this Redis evicts any key (maxmemory-policy ${policy}), so it can drop a user's session index ` +
          'and leave sessions that revokeAllSessions cannot find; set `maxmemory-policy noeviction` (or a volatile-* ' +
          'policy) on it, or give sessions a Redis of their own',
        503,
      )
    }
    this.persistIndex = policy === undefined || policy.startsWith('volatile-')
    this.#passed = true
  }
}
