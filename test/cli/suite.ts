/** Every `coatcheck` command that opens a store, run as a child process against one durable backend. */
import assert from 'node:assert/strict'
import { after, describe, it } from 'node:test'
import { shortId } from '../../src/core/token.ts'
import type { CoatcheckStore } from '../../src/stores/types.ts'
import { listingTests } from './listing.ts'
import { coatcheck, DAY, HOUR, seed, tokenRecord } from './run.ts'

/** A namespace of one backend: the CLI arguments that name it and, unless blank, an open store on it. */
export interface Namespace {
  /** `--store URL` plus the prefix option that isolates this namespace. */
  args: string[]
  store: CoatcheckStore
}

export interface Backend {
  name: string
  /** A new namespace whose tables exist (the store opened it), empty. */
  fresh(): Promise<Namespace>
  /** The arguments of a new namespace that nothing has opened yet: no file, no tables. */
  blank(): Promise<string[]>
  /** Whether the backend keeps expired records until pruned (SQL) or drops them itself (Redis). */
  prunes: boolean
}

export function cliSuite(backend: Backend): void {
  describe(`coatcheck CLI on ${backend.name}`, () => {
    const stores: CoatcheckStore[] = []
    const fresh = async () => {
      const ns = await backend.fresh()
      stores.push(ns.store)
      return ns
    }
    after(async () => {
      for (const store of stores) await store.close?.()
    })

    listingTests(backend, fresh)

    it('sessions revoke --handle ends that session and its remember-me token, nothing else', async () => {
      const { args, store } = await fresh()
      await store.tokens.create('tok1', tokenRecord('ada'))
      const remembered = await seed(store, { userId: 'ada', meta: { rememberId: 'tok1' } })
      const other = await seed(store, { userId: 'ada' })
      const bob = await seed(store, { userId: 'bob' })
      const handle = shortId(remembered)
      const { code, stdout, stderr } = await coatcheck([
        'sessions',
        'revoke',
        '--user',
        'ada',
        '--handle',
        handle,
        ...args,
      ])
      assert.equal(code, 0, stderr)
      assert.equal(stdout, `Revoked session ${handle} of user ada and its remember-me token.\n`)
      assert.equal(await store.get(remembered), undefined)
      assert.equal(await store.tokens.get('tok1'), undefined)
      assert.ok(await store.get(other))
      assert.ok(await store.get(bob))
      const again = await coatcheck(['sessions', 'revoke', '--user', 'ada', '--handle', handle, ...args])
      assert.equal(again.code, 1)
      assert.match(again.stderr, /^coatcheck: user ada has no live session with handle \w{12}/)
      const bobs = await coatcheck(['sessions', 'revoke', '--user', 'ada', '--handle', shortId(bob), ...args])
      assert.equal(bobs.code, 1, "another user's handle is not found")
      assert.ok(await store.get(bob))
    })

    it('sessions revoke --all ends every session and token of the user', async () => {
      const { args, store } = await fresh()
      await store.tokens.create('tok2', tokenRecord('ada'))
      const keys = [await seed(store, { userId: 'ada' }), await seed(store, { userId: 'ada' })]
      const bob = await seed(store, { userId: 'bob' })
      const { code, stdout } = await coatcheck(['sessions', 'revoke', '--user', 'ada', '--all', '--json', ...args])
      assert.equal(code, 0)
      assert.deepEqual(JSON.parse(stdout), { userId: 'ada', revoked: 2 })
      for (const key of keys) assert.equal(await store.get(key), undefined)
      assert.equal(await store.tokens.get('tok2'), undefined)
      assert.ok(await store.get(bob))
      const none = await coatcheck(['sessions', 'revoke', '--user', 'ada', '--all', ...args])
      assert.equal(none.code, 0)
      assert.equal(none.stdout, 'Revoked 0 sessions of user ada, and their remember-me tokens.\n')
    })

    it('prune deletes expired sessions (or says Redis needs none)', async () => {
      const { args, store } = await fresh()
      await seed(store, { ttl: -60_000 })
      await seed(store, { userId: 'ada', ttl: -1_000 })
      const live = await seed(store)
      const json = await coatcheck(['prune', '--json', ...args])
      assert.equal(json.code, 0, json.stderr)
      assert.deepEqual(JSON.parse(json.stdout), { removed: backend.prunes ? 2 : 0 })
      const text = await coatcheck(['prune', ...args])
      assert.equal(text.code, 0)
      assert.match(text.stdout, backend.prunes ? /^Removed 0 expired sessions/ : /nothing to prune/)
      assert.ok(await store.get(live))
    })

    it('stats: sessions, users, logged in and anonymous, by age', async () => {
      const { args, store } = await fresh()
      await seed(store)
      await seed(store, { age: 30 * 60_000 })
      for (let i = 0; i < 3; i++) await seed(store, { userId: 'ada', age: 2 * HOUR })
      await seed(store, { userId: 'bob', age: 3 * DAY })
      await seed(store, { userId: 'bob', age: 10 * DAY })
      await seed(store, { userId: 'eve', ttl: -1000 })
      const json = await coatcheck(['stats', '--json', ...args])
      assert.equal(json.code, 0, json.stderr)
      assert.deepEqual(JSON.parse(json.stdout), {
        sessions: 7,
        loggedIn: 5,
        anonymous: 2,
        users: 2,
        age: { under1h: 2, under1d: 3, under7d: 1, older: 1 },
      })
      const text = await coatcheck(['stats', ...args])
      assert.match(text.stdout, /^Sessions +7\n {2}logged in +5\n {2}anonymous +2\nUsers +2\nSessions by age\n/)
      assert.match(text.stdout, / {2}under 1 hour +2\n {2}1 hour to 1 day +3\n {2}1 to 7 days +1\n {2}older +1\n$/)
    })

    it('migrate creates what the other commands refuse to create', async () => {
      const args = await backend.blank()
      const before = await coatcheck(['stats', ...args])
      if (backend.prunes) {
        assert.ok(before.code === 4 || before.code === 5, `exit ${before.code}: ${before.stderr}`)
        assert.match(before.stderr, /coatcheck migrate/)
      } else assert.equal(before.code, 0)
      const migrated = await coatcheck(['migrate', ...args])
      assert.equal(migrated.code, 0, migrated.stderr)
      assert.match(
        migrated.stdout,
        backend.prunes ? /tables \w+sessions, \w+tokens, \w+counters are up to date/ : /nothing to migrate/,
      )
      assert.equal((await coatcheck(['migrate', ...args])).code, 0, 'idempotent')
      const after = await coatcheck(['stats', '--json', ...args])
      assert.equal(after.code, 0, after.stderr)
      assert.equal(JSON.parse(after.stdout).sessions, 0)
    })
  })
}
