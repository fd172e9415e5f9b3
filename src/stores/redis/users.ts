import type { Script, Send } from './client.ts'
import type { EvictionPolicy } from './policy.ts'
import { deadline } from './records.ts'

/** The per-user sorted sets: member = record key, score = an upper bound of the record's deadline. */
export class Index {
  readonly #send: Send
  readonly #add: Script
  readonly #prefix: string
  readonly #policy: EvictionPolicy

  constructor(send: Send, add: Script, prefix: string, policy: EvictionPolicy) {
    this.#send = send
    this.#add = add
    this.#prefix = prefix
    this.#policy = policy
  }

  /** Lists `member` under `userId` until `expiresAt`; a deadline already past lists nothing. */
  async add(userId: string, member: string, expiresAt: number): Promise<void> {
    await this.#policy.ready()
    const now = Date.now()
    if (expiresAt <= now) return
    const persist = this.#policy.persistIndex ? '1' : '0'
    await this.#add.run(this.#prefix + userId, [deadline(expiresAt), member, now, persist])
  }

  /** Unlists `members` (in chunks, so a user with very many records does not make one huge command). */
  async remove(userId: string, members: string[]): Promise<void> {
    const key = this.#prefix + userId
    for (let i = 0; i < members.length; i += 1000) {
      await this.#send(key, ['ZREM', key, ...members.slice(i, i + 1000)])
    }
  }

  /** The members whose deadline has not passed, after dropping the others (prune on read). */
  async live(userId: string): Promise<string[]> {
    const key = this.#prefix + userId
    const now = String(Date.now())
    const [, members] = await Promise.all([
      this.#send(key, ['ZREMRANGEBYSCORE', key, '-inf', now]),
      this.#send(key, ['ZRANGE', key, `(${now}`, '+inf', 'BYSCORE']),
    ])
    return (members as unknown[]).map(String)
  }

  /** Every member, live or not: revoking also removes what may still be there. */
  async all(userId: string): Promise<string[]> {
    const key = this.#prefix + userId
    return ((await this.#send(key, ['ZRANGE', key, '0', '-1'])) as unknown[]).map(String)
  }
}
