import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import { redisStore } from '../src/stores/redis/index.ts'
import { startRedis } from '../test/support/redis.ts'
import { PROFILE, USER } from './app-shape.ts'
import { fixed, save, table } from './common.ts'
import { record } from './fill.ts'

// The Redis server's own cost of one session write, without HTTP: coatcheck's `update` (one key set, bounded by
// maxBytes, as the middleware sends it) against connect-redis's `set` of the whole session, each on its own sessions,
// in alternated rounds. Redis's `used_cpu_*` (the whole server: parsing, the script, replies) and, per command,
// `INFO commandstats` (execution only). Target (issue 13): coatcheck at most 1.2x connect-redis.

/** The one command these probes send. */
type Client = { info(section: string): Promise<string> }

async function cpu(client: Client): Promise<number> {
  const info = await client.info('cpu')
  const field = (name: string) => Number(new RegExp(`${name}:([\\d.]+)`).exec(info)?.[1] ?? 0)
  return (field('used_cpu_user') + field('used_cpu_sys')) * 1e6
}

async function commandUsec(client: Client): Promise<Map<string, number>> {
  const info = await client.info('commandstats')
  const usec = new Map<string, number>()
  for (const m of info.matchAll(/cmdstat_([a-z|]+):calls=\d+,usec=(\d+)/g)) usec.set(m[1]!, Number(m[2]))
  return usec
}

export async function redisWrite(quick = false): Promise<void> {
  const began = performance.now()
  const writes = quick ? 2000 : 10_000
  const rounds = quick ? 3 : 5
  const server = await startRedis()
  const alive = setInterval(() => {}, 1000)
  const probe = await createClient({ url: server.url }).connect()
  const client = await createClient({ url: server.url }).connect()
  try {
    const coatcheck = redisStore({ client })
    const legacy = new RedisStore({ client }) as unknown as {
      set(sid: string, session: object, callback: (error?: unknown) => void): void
    }
    const keys = Array.from({ length: 10 }, (_, i) => `k${i}`)
    for (const key of keys) await coatcheck.create(key, record(USER))
    const cookie = { originalMaxAge: 86_400_000, expires: new Date(Date.now() + 86_400_000), httpOnly: true, path: '/' }
    const legacySession = (qty: number) => ({ cookie, user: USER, ...PROFILE, cart: [{ sku: 'A-1', qty }] })
    const set = (sid: string, qty: number) =>
      new Promise<void>((resolve, reject) =>
        legacy.set(sid, legacySession(qty), (e?: unknown) => (e ? reject(e) : resolve())),
      )
    const sides = {
      coatcheck: (i: number) =>
        coatcheck.update(keys[i % keys.length]!, {
          set: { cart: `[{"sku":"A-1","qty":${i % 100}}]` },
          maxBytes: 65_536,
        }),
      'connect-redis': (i: number) => set(`s${i % keys.length}`, i % 100),
    }
    const results: { side: string; round: number; serverUs: number; commands: Record<string, number> }[] = []
    for (let round = 0; round < rounds; round++) {
      const order =
        round % 2 === 0 ? (['coatcheck', 'connect-redis'] as const) : (['connect-redis', 'coatcheck'] as const)
      for (const side of order) {
        const cpu0 = await cpu(probe)
        const usec0 = await commandUsec(probe)
        for (let i = 0; i < writes; i += 10) await Promise.all(keys.map((_, j) => sides[side](i + j)))
        const serverUs = ((await cpu(probe)) - cpu0) / writes
        const usec1 = await commandUsec(probe)
        const commands: Record<string, number> = {}
        for (const [name, us] of usec1) {
          const d = (us - (usec0.get(name) ?? 0)) / writes
          if (d > 0.01 && name !== 'info') commands[name] = d
        }
        results.push({ side, round, serverUs, commands })
      }
    }
    const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
    const of = (side: string) => results.filter((r) => r.side === side)
    const rows = ['connect-redis', 'coatcheck'].map((side) => {
      const own = of(side)
      const names = [...new Set(own.flatMap((r) => Object.keys(r.commands)))]
      const cmds = names.map((n) => `${n} ${fixed(median(own.map((r) => r.commands[n] ?? 0)), 2)}`).join(', ')
      return [side, fixed(median(own.map((r) => r.serverUs)), 2), cmds]
    })
    const ratio = median(of('coatcheck').map((r) => r.serverUs)) / median(of('connect-redis').map((r) => r.serverUs))
    console.log(`\nRedis server CPU per session write (${writes} writes × ${rounds} alternated rounds, medians):\n`)
    console.log(table(['store', 'server µs CPU/write', 'µs executing, per command'], rows, ['---', '---:', '---']))
    console.log(
      `\ncoatcheck ÷ connect-redis: ${ratio.toFixed(2)}x (target ≤ 1.2x) — ${ratio <= 1.2 ? 'met' : 'missed'}`,
    )
    await save('redis-write', began, { writes, rounds, results, ratio })
  } finally {
    await client.close()
    await probe.close()
    await server.stop()
    clearInterval(alive)
  }
}
