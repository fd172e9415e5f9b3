/**
 * The bounds on what a write may store, checked before the store is asked: nesting depth (`maxDepth`), and size
 * (`maxBytes`) where the change alone decides it. The store sizes every change again, atomically against what it
 * holds (`SessionPatch.maxBytes`), the only count that concurrent requests cannot get wrong; so the check here needs
 * no pass over the whole session, and only spares the store a write it would refuse. Both are the app's data, not a
 * store failure: 413 at write time, never a 500 loop.
 */
import { jsonDepth } from '../core/json.ts'
import { CoatcheckError } from '../errors.ts'
import type { DataDiff } from './data.ts'

/**
 * Throws `SESSION_TOO_LARGE` or `SESSION_TOO_DEEP` (413) when `diff` breaks a bound. A session is refused when it would
 * be larger than `maxBytes` and larger than it was (so one stored under a larger bound can still be cut down). What
 * `set` writes alone past `maxBytes`, and more than what it replaces, settles both without counting the rest (the
 * whole session is at least what is written, and it grows); `data.sizeAfter` then counts it, for the message.
 */
export function checkLimits(
  diff: DataDiff,
  bounds: { readonly maxBytes: number; readonly maxDepth: number },
  data: { sizeAfter(diff: DataDiff): number },
): void {
  if (diff.setBytes > bounds.maxBytes && diff.setBytes > diff.replacedBytes) {
    throw new CoatcheckError(
      'SESSION_TOO_LARGE',
      `coatcheck: session of ${data.sizeAfter(diff)} bytes exceeds maxBytes (${bounds.maxBytes})`,
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
