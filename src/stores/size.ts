import { CoatcheckError } from '../errors.ts'
import type { StoredData } from './types.ts'

/**
 * The size of stored data as `SessionPatch.maxBytes` counts it: over the top-level keys, the UTF-8 bytes of the key
 * plus those of its JSON text. Redis counts the same with Lua's `#`, PostgreSQL with `octet_length`.
 */
export function dataBytes(data: StoredData): number {
  let bytes = 0
  for (const key of Object.keys(data)) bytes += Buffer.byteLength(key) + Buffer.byteLength(data[key]!)
  return bytes
}

/** The rejection of a patch that breaks its bound (`SESSION_TOO_LARGE`, 413). */
export function tooLarge(bytes: number, maxBytes: number): CoatcheckError {
  return new CoatcheckError(
    'SESSION_TOO_LARGE',
    `coatcheck: session of ${bytes} bytes exceeds maxBytes (${maxBytes})`,
    413,
  )
}

/**
 * Throws {@link tooLarge} when data of `before` bytes would become `after` bytes past `maxBytes`. Shrinking always
 * passes, so a session stored under a larger bound can still be cut down.
 */
export function checkBytes(before: number, after: number, maxBytes: number | undefined): void {
  if (maxBytes !== undefined && after > maxBytes && after > before) throw tooLarge(after, maxBytes)
}
