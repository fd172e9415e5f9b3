// Text that could spell a dangerous key, directly or through \u escapes.
const SUSPICIOUS = /__proto__|constructor|\\u/

function dropDangerous(key: string, value: unknown): unknown {
  return key === '__proto__' || key === 'constructor' ? undefined : value
}

/**
 * Parses one stored JSON value. Keys named `__proto__` or `constructor` are dropped at every depth, so stored data
 * can never reach a prototype even when app code later merges it into another object. Unparseable text (a corrupted
 * store entry) reads as undefined rather than failing the request.
 */
export function parseStored(json: string): unknown {
  try {
    // The reviver is slow, so only text that could carry such a key pays for it.
    return SUSPICIOUS.test(json) ? JSON.parse(json, dropDangerous) : JSON.parse(json)
  } catch {
    return undefined
  }
}

/**
 * Stored data (JSON text per top-level key) parsed into a null-prototype object of values. Top-level `__proto__` and
 * `constructor` keys are dropped, as `parseStored` drops them deeper down, so the result is safe to assign or merge
 * into any object.
 */
export function parseData(stored: Record<string, string>): Record<string, unknown> {
  const values: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(stored)) {
    if (key === '__proto__' || key === 'constructor') continue
    values[key] = parseStored(stored[key]!)
  }
  return values
}

/**
 * The keys of a parsed JSON object copied into a null-prototype object. `JSON.parse` makes a `__proto__` key an own
 * property; assigning it on an object without a prototype keeps it one (there is no setter to hit), so stored data
 * can never become a prototype. Anything but a plain object yields an empty object.
 */
export function nullProto<T = unknown>(parsed: unknown): Record<string, T> {
  const object = Object.create(null) as Record<string, T>
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return object
  for (const key of Object.keys(parsed)) object[key] = (parsed as Record<string, T>)[key]!
  return object
}
