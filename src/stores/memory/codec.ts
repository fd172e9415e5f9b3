import { nullProto } from '../../core/json.ts'
import type { StoredData } from '../types.ts'

// A session's data as the memory store keeps it: one string: the number of its key list (a shape, shared by every
// session whose data has the same keys in the same order) in two characters, then the JSON texts of its values, each
// after a NUL. One string per session instead of an object and a string per key is what makes a stored session smaller than
// express-session's: a null-prototype object is a V8 dictionary (about 500 bytes for 9 keys) and each text carries a
// 16-byte header. Data this cannot hold is kept as a frozen object instead and decoded as itself: a text with a raw NUL
// (never valid JSON, but a store keeps whatever text it was given), or keys past the bound on shapes.

const SEP = '\u0000'
/**
 * Key lists are interned for the store's life, so their number and size are bounded: an app whose keys vary per
 * session (`draft-<id>`) must not grow the store without end. Past the bound a session's data is kept as an object,
 * which is larger and freed with the session. The number also fits the two one-byte characters of the prefix (a
 * character past 255 would make the whole string two bytes a character).
 */
const MAX_SHAPES = 1024
/** The longest key list interned, in characters of its JSON. */
const MAX_SHAPE_CHARS = 1024

const EMPTY: StoredData = Object.freeze(Object.create(null) as StoredData)

export class DataCodec {
  readonly #shapes: (readonly string[])[] = []
  readonly #numbers = new Map<string, number>()

  encode(data: StoredData): string | StoredData {
    const keys = Object.keys(data)
    const shape = this.#number(keys)
    if (shape === undefined) return Object.freeze(nullProto<string>(data))
    // One join, so the string is flat: concatenating it piece by piece would keep a tree of ropes.
    const parts = [String.fromCharCode(shape >> 8, shape & 0xff)]
    for (const key of keys) {
      const value = data[key]!
      if (value.includes(SEP)) return Object.freeze(nullProto<string>(data))
      parts.push(value)
    }
    return parts.join(SEP)
  }

  /**
   * The data `encode` was given, built anew: frozen, with a null prototype (so a key named `__proto__` is a plain key
   * and nothing added to `Object.prototype` shows through a `for...in`). About 7 000 instructions for 9 keys, most of
   * them V8 building the dictionary, which is why `sessions.ts` keeps the hot ones decoded.
   */
  decode(encoded: string | StoredData): StoredData {
    if (typeof encoded !== 'string') return encoded
    const shape = this.#shapes[(encoded.charCodeAt(0) << 8) | encoded.charCodeAt(1)]!
    const last = shape.length - 1
    if (last < 0) return EMPTY
    const data = Object.create(null) as StoredData
    let start = 3
    for (let i = 0; i < last; i++) {
      const end = encoded.indexOf(SEP, start)
      data[shape[i]!] = encoded.slice(start, end)
      start = end + 1
    }
    data[shape[last]!] = encoded.slice(start)
    return Object.freeze(data)
  }

  /** The number of a key list, given one when it is new; undefined past the bounds. */
  #number(keys: string[]): number | undefined {
    // JSON of the list, not a join: keys may hold any character, so a joined list could stand for two different ones.
    const id = JSON.stringify(keys)
    let shape = this.#numbers.get(id)
    if (shape === undefined && this.#shapes.length < MAX_SHAPES && id.length <= MAX_SHAPE_CHARS) {
      shape = this.#shapes.push(Object.freeze(keys)) - 1
      this.#numbers.set(id, shape)
    }
    return shape
  }
}
