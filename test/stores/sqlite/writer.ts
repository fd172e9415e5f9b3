// Opens the SQLite file given as the first argument, says `ready`, waits for a line on stdin, then writes `count`
// sessions named `<prefix><i>` (create, then update each) and patches one shared session and one shared counter
// per step. Prints how many calls succeeded.
import { once } from 'node:events'
import { sqliteStore } from '../../../src/stores/sqlite/index.ts'

const [path, prefix, count] = process.argv.slice(2) as [string, string, string]
const store = sqliteStore({ path, busyTimeout: 30_000 })
process.stdout.write('ready\n')
await once(process.stdin, 'data')
process.stdin.destroy()
const now = Date.now()
const record = { userId: prefix, meta: { writer: prefix }, createdAt: now, lastSeenAt: now }
const deadlines = { expiresAt: now + 3_600_000, absoluteExpiresAt: now + 7_200_000 }
let ok = 0
for (let i = 0; i < Number(count); i++) {
  const key = `${prefix}${i}`
  if (await store.create(key, { ...record, ...deadlines, data: { i: String(i) } })) ok++
  if (await store.update(key, { set: { done: 'true' } })) ok++
  if (await store.update('shared', { set: { [key]: String(i) } })) ok++
  await store.counters.hit('shared', 3_600_000)
}
await store.close()
process.stdout.write(`${ok}\n`)
