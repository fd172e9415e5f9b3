import { CoatcheckError } from '../errors.ts'
import type { SessionEvent } from '../events.ts'

/**
 * Runs one store call with a deadline. Any failure, including a synchronous throw, becomes a `CoatcheckError`
 * with status 503 (`STORE_TIMEOUT` or `STORE_ERROR`, the original as `cause`), so callers fail closed in one way.
 */
function guarded<T>(call: () => Promise<T>, timeoutMs: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => {
      reject(new CoatcheckError('STORE_TIMEOUT', `coatcheck: store call exceeded ${timeoutMs} ms`, 503))
    }, timeoutMs)
    const fail = (error: unknown) => {
      clearTimeout(timer)
      reject(
        error instanceof CoatcheckError
          ? error
          : new CoatcheckError('STORE_ERROR', 'coatcheck: session store failed', 503, { cause: error }),
      )
    }
    try {
      call().then((value) => {
        clearTimeout(timer)
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

/** A guarded store call (see `guarded`) whose failure is also reported as a `store-error` event. */
export function storeCall<T>(o: StoreCallOptions, call: () => Promise<T>): Promise<T> {
  return guarded(call, o.storeTimeout).catch((error: unknown) => {
    o.emit({ type: 'store-error', error })
    throw error
  })
}
