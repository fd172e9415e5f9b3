// Text that could spell a dangerous key, directly or through \u escapes.
const SUSPICIOUS = /__proto__|constructor|\\u/

function isDangerous(key: string): boolean {
  return key === '__proto__' || key === 'constructor'
}

/**
 * Deletes `__proto__` and `constructor` keys at every depth of a freshly parsed value. Iterative, with an explicit
 * stack, so nesting that `JSON.parse` accepts (it is not recursive) never overflows the call stack here either.
 * `JSON.parse` makes such keys own data properties, so `delete` removes them without reaching a prototype.
 */
function dropDangerous(root: unknown): void {
  const stack: unknown[] = [root]
  while (stack.length > 0) {
    const node = stack.pop()
    if (typeof node !== 'object' || node === null) continue
    if (Array.isArray(node)) {
      for (const item of node) if (typeof item === 'object' && item !== null) stack.push(item)
      continue
    }
    const object = node as Record<string, unknown>
    for (const key of Object.keys(object)) {
      if (isDangerous(key)) delete object[key]
      else if (typeof object[key] === 'object' && object[key] !== null) stack.push(object[key])
    }
  }
}

/**
 * Parses one stored JSON value. Keys named `__proto__` or `constructor` are dropped at every depth, so stored data
 * can never reach a prototype even when app code later merges it into another object. Any nesting `JSON.parse`
 * accepts reads back. Unparseable text (a corrupted store entry) reads as undefined rather than failing the request.
 */
export function parseStored(json: string): unknown {
  let value: unknown
  try {
    value = JSON.parse(json)
  } catch {
    return undefined
  }
  // The walk costs a pass over the value, so only text that could carry such a key pays for it.
  if (SUSPICIOUS.test(json)) dropDangerous(value)
  return value
}

const OPEN_OBJECT = 0x7b // {
const OPEN_ARRAY = 0x5b // [
const CLOSE_OBJECT = 0x7d // }
const CLOSE_ARRAY = 0x5d // ]
const QUOTE = 0x22 // "
const BACKSLASH = 0x5c // \

/**
 * The nesting depth of a JSON text: 0 for a scalar, 1 for `[]` or `{"a":1}`, 2 for `[[1]]`, and so on. Scans the
 * brackets outside strings in one pass, without recursion and without parsing, so it is safe on any input (text
 * that is not JSON gets a meaningless but finite answer). It stops as soon as the depth exceeds `limit` and returns
 * that depth (`limit + 1`), so checking a bound costs no more than the bound: `jsonDepth(text, max) > max` means too
 * deep. Default limit none.
 */
export function jsonDepth(json: string, limit = Number.POSITIVE_INFINITY): number {
  let depth = 0
  let deepest = 0
  let inString = false
  for (let i = 0; i < json.length; i++) {
    const c = json.charCodeAt(i)
    if (inString) {
      if (c === BACKSLASH) i++
      else if (c === QUOTE) inString = false
    } else if (c === QUOTE) {
      inString = true
    } else if (c === OPEN_OBJECT || c === OPEN_ARRAY) {
      if (++depth > deepest) {
        deepest = depth
        if (deepest > limit) return deepest
      }
    } else if (c === CLOSE_OBJECT || c === CLOSE_ARRAY) {
      depth--
    }
  }
  return deepest
}

/**
 * Stored data (JSON text per top-level key) parsed into a null-prototype object of values. Top-level `__proto__` and
 * `constructor` keys are dropped, as `parseStored` drops them deeper down, so the result is safe to assign or merge
 * into any object.
 */
export function parseData(stored: Record<string, string>): Record<string, unknown> {
  const values: Record<string, unknown> = Object.create(null)
  for (const key of Object.keys(stored)) {
    if (isDangerous(key)) continue
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
