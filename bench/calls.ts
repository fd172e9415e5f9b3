import type { AddressInfo } from 'node:net'
import { buildApp, type Wrap } from './app.ts'
import type { Variant } from './app-shape.ts'
import { fixed, table } from './common.ts'
import { SCENARIOS, type Scenario } from './compare.ts'

// Store calls per request, counted by wrapping the store of the comparison's app (memory backend, in this process):
// what each scenario asks of a store, which is what a remote store pays for. "Session creation: one store write" is
// a target of issue 13.

const COUNTED = ['get', 'create', 'update', 'touch', 'destroy', 'set'] as const

export interface Calls {
  variant: Variant
  scenario: Scenario
  /** Mean calls per request, by store method. */
  perRequest: Record<string, number>
}

async function count(variant: Variant, scenario: Scenario, requests: number): Promise<Calls> {
  const calls: Record<string, number> = {}
  const wrap: Wrap = (store) =>
    new Proxy(store, {
      get(target, name, receiver) {
        const member = Reflect.get(target, name, receiver)
        if (typeof member !== 'function' || !COUNTED.includes(name as (typeof COUNTED)[number])) return member
        return (...args: unknown[]) => {
          calls[String(name)] = (calls[String(name)] ?? 0) + 1
          return (member as (...a: unknown[]) => unknown).apply(target, args)
        }
      },
    })
  const { rolling, method, path, cookies } = SCENARIOS[scenario]
  const app = await buildApp({ variant, backend: 'memory', rolling, where: '' }, wrap)
  const server = app.listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  try {
    const login = await fetch(`${url}/login`, { method: 'POST' })
    const cookie = login.headers.getSetCookie()[0]!.split(';', 1)[0]!
    for (const key of Object.keys(calls)) delete calls[key]
    for (let i = 0; i < requests; i++) {
      const res = await fetch(`${url}${path}`, { method, headers: cookies ? { cookie } : {} })
      await res.arrayBuffer()
      if (!res.ok) throw new Error(`${variant} ${scenario}: ${res.status}`)
    }
  } finally {
    server.closeAllConnections()
    server.close()
  }
  const perRequest = Object.fromEntries(Object.entries(calls).map(([name, n]) => [name, n / requests]))
  return { variant, scenario, perRequest }
}

/** Counts the store calls of every scenario for express-session's MemoryStore and coatcheck's memoryStore. */
export async function storeCalls(scenarios: Scenario[]): Promise<{ calls: Calls[]; markdown: string }> {
  const calls: Calls[] = []
  for (const scenario of scenarios.filter((s) => s !== 'read-50')) {
    for (const variant of ['express-session', 'coatcheck'] as const) calls.push(await count(variant, scenario, 20))
  }
  const show = (c: Calls | undefined) =>
    c === undefined
      ? '—'
      : Object.entries(c.perRequest)
          .filter(([, n]) => n > 0)
          .map(([name, n]) => `${name} ${fixed(n, n % 1 === 0 ? 0 : 2)}`)
          .join(', ') || 'none'
  const rows = [...new Set(calls.map((c) => c.scenario))].map((scenario) => [
    SCENARIOS[scenario].label,
    show(calls.find((c) => c.scenario === scenario && c.variant === 'express-session')),
    show(calls.find((c) => c.scenario === scenario && c.variant === 'coatcheck')),
  ])
  return { calls, markdown: table(['scenario', 'express-session (store calls/request)', 'coatcheck'], rows) }
}
