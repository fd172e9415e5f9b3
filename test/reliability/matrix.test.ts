/**
 * Every backend on real servers, started once for the whole file: the concurrency matrix (./concurrency.ts) and the
 * generated session-data round trip (../property/roundtrip.ts). One file, so the servers start once.
 */
import { after, before } from 'node:test'
import { roundTrip } from '../property/roundtrip.ts'
import { ALL, type Backends, startBackends } from './backends.ts'
import { concurrencyMatrix } from './concurrency.ts'

let backends: Backends | undefined
before(async () => {
  backends = await startBackends(ALL)
})
after(() => backends?.stop())

const started = () => {
  if (!backends) throw new Error('the backends did not start')
  return backends
}
roundTrip(started)
concurrencyMatrix(started)
