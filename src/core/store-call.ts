import { CoatcheckError } from '../errors.ts'
import type { SessionEvent } from '../events.ts'

interface Watched {
  deadline: number
  timeoutMs: number
  reject: (error: unknown) => void
}

// One coarse watchdog for every call in flight instead of a timer per call: a store call is on the path of nearly
// every request, and a timer per call costs more than the call to a fast store. A call times out within one tick
// after its deadline.
const TICK_MS = 25
const watched = new Set<Watched>()
let watchdog: NodeJS.Timeout | undefined

function watch(entry: Watched): void {
  watched.add(entry)
  watchdog ??= setInterval(sweep, TICK_MS).unref()
}

function sweep(): void {
  const now = Date.now()
  for (const entry of watched) {
    if (entry.deadline > now) continue
    watched.delete(entry)
    entry.reject(new CoatcheckError('STORE_TIMEOUT', `coatcheck: store call exceeded ${entry.timeoutMs} ms`, 503))
  }
  if (watched.size === 0) {
    clearInterval(watchdog)
    watchdog = undefined
  }
}

/**
 * Runs one store call with a deadline. Any failure, including a synchronous throw, becomes a `CoatcheckError`
 * with status 503 (`STORE_TIMEOUT` or `STORE_ERROR`, the original as `cause`), so callers fail closed in one way.
 */
function guarded<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const entry: Watched = { deadline: Date.now() + timeoutMs, timeoutMs, reject }
    watch(entry)
    const fail = (error: unknown) => {
      watched.delete(entry)
      reject(
        error instanceof CoatcheckError
          ? error
          : new CoatcheckError('STORE_ERROR', 'coatcheck: session store failed', 503, { cause: error }),
      )
    }
    try {
      call().then((value) => {
        watched.delete(entry)
        resolve(value)
      }, fail)
    } catch (error) {
      fail(error)
    }
  })
}

/** What a store call needs from the middleware's options. */
export interface StoreCallOptions {
  readonly storeTimeout: number
  readonly emit: (event: SessionEvent) => void
}

/**
 * A guarded store call (see `guarded`) whose failure is also reported as a `store-error` event. A `SESSION_TOO_LARGE`
 * refusal (413) passes through unchanged and unreported: it is about the client's data, not a failing store.
 */
export function storeCall<T>(o: StoreCallOptions, call: () => Promise<T>): Promise<T> {
  return guarded(call, o.storeTimeout).catch((error: unknown) => {
    if (!(error instanceof CoatcheckError && error.code === 'SESSION_TOO_LARGE')) o.emit({ type: 'store-error', error })
    throw error
  })
}
