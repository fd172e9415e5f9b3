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
