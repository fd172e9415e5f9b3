/**
 * The bounds on what a write may store, checked before the store is asked: size (`maxBytes`, which the store checks
 * again atomically against what it holds) and nesting depth (`maxDepth`). Both are the app's data, not a store
 * failure: 413 at write time, never a 500 loop.
 */
import { jsonDepth } from '../core/json.ts'
import { CoatcheckError } from '../errors.ts'
import type { DataDiff } from './data.ts'

/** Throws `SESSION_TOO_LARGE` or `SESSION_TOO_DEEP` (413) when `diff` breaks a bound. */
export function checkLimits(diff: DataDiff, bounds: { readonly maxBytes: number; readonly maxDepth: number }): void {
  // A change that shrinks a session stored under a larger bound always applies; the store checks exactly.
  if (diff.bytes > bounds.maxBytes && diff.bytes > diff.storedBytes) {
    throw new CoatcheckError(
      'SESSION_TOO_LARGE',
      `coatcheck: session of ${diff.bytes} bytes exceeds maxBytes (${bounds.maxBytes})`,
      413,
    )
  }
  for (const key in diff.set) {
    if (jsonDepth(diff.set[key]!, bounds.maxDepth) > bounds.maxDepth) {
      throw new CoatcheckError(
        'SESSION_TOO_DEEP',
        `coatcheck: session key ${JSON.stringify(key)} nests deeper than maxDepth (${bounds.maxDepth})`,
        413,
      )
    }
  }
}
