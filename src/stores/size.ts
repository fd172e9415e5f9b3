import { nullProto } from '../core/json.ts'
import { CoatcheckError } from '../errors.ts'
import type { SessionPatch, StoredData } from './types.ts'

/**
 * The size of stored data as `SessionPatch.maxBytes` counts it: over the top-level keys, the UTF-8 bytes of the key
 * plus those of its JSON text. Redis counts the same with Lua's `#`, PostgreSQL with `octet_length`.
 */
export function dataBytes(data: StoredData): number {
  let bytes = 0
  for (const key of Object.keys(data)) bytes += entryBytes(key, data[key]!)
  return bytes
}

/** One key's share of {@link dataBytes}: the UTF-8 bytes of the key and of its JSON text. */
export const entryBytes = (key: string, text: string) => Buffer.byteLength(key) + Buffer.byteLength(text)

/**
 * `data` with `patch` applied, as a new null-prototype object (`unset` first, then `set`, as every backend does: a
 * key in both ends up set; even a `__proto__` key is a plain own key). Throws {@link tooLarge} by the rule of
 * {@link checkBytes} when `patch.maxBytes` is given. The growth is counted over the patch's keys only; the whole is
 * counted only when the data grows, to compare with the bound.
 */
export function patchedData(data: StoredData, patch: Pick<SessionPatch, 'set' | 'unset' | 'maxBytes'>): StoredData {
  const next = nullProto<string>(data)
  let grown = 0
  for (const key of patch.unset ?? []) {
    if (!Object.hasOwn(next, key)) continue
    grown -= entryBytes(key, next[key]!)
    delete next[key]
  }
  const set = patch.set ?? {}
  for (const key of Object.keys(set)) {
    if (Object.hasOwn(next, key)) grown -= entryBytes(key, next[key]!)
    next[key] = set[key]!
    grown += entryBytes(key, set[key]!)
  }
  if (patch.maxBytes !== undefined && grown > 0) checkBytes(0, dataBytes(next), patch.maxBytes)
  return next
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
