/**
 * The one conformance suite of the store contract, in three parts a target can run apart: sessions (`sessions.ts`,
 * with `data.ts`), remember-me tokens (`tokens.ts`) and rate-limit counters (`counters.ts`). A backend is done when
 * `storeConformance` passes against it on a real server; the legacy adapter runs `sessionConformance` only.
 */
import { describe } from 'node:test'
import type { CoatcheckStore } from '../../../src/stores/types.ts'
import { counterCases } from './counters.ts'
import { sessionCases } from './sessions.ts'
import { type ConformanceTarget, perTest } from './support.ts'
import { tokenCases } from './tokens.ts'

export { sessionConformance } from './sessions.ts'
export type { ConformanceTarget } from './support.ts'

/** Registers the whole contract (sessions, tokens, counters) as `node:test` suites, a fresh store per test. */
export function storeConformance(target: ConformanceTarget<CoatcheckStore>): void {
  describe(`store conformance: ${target.name}`, () => {
    const current = perTest(target)
    sessionCases(current, target)
    tokenCases(current)
    counterCases(current)
  })
}
