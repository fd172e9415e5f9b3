import { randomInt } from 'node:crypto'

// Strings to slots, in an open-addressing hash table of slot numbers: the string is not stored again (it is read back
// from the slot it names), so an entry costs 8 to 16 bytes where a `Map` entry costs 30 to 40, and looking one up
// costs about what `Map#get` does (V8 hashes a fresh string too). The hash is seeded per table, so strings chosen to
// collide cannot be prepared in advance.

const EMPTY = 0

export class SlotIndex {
  /** Slot + 1 per entry; 0 for an empty cell. The length is a power of two, at most half full. */
  #cells = new Int32Array(16)
  #count = 0
  readonly #seed = randomInt(2 ** 31)
  readonly #nameOf: (slot: number) => string | null

  /** `nameOf(slot)` is the string an entry holding `slot` stands for; it must not change while the entry is here. */
  constructor(nameOf: (slot: number) => string | null) {
    this.#nameOf = nameOf
  }

  get size(): number {
    return this.#count
  }

  /** The slot `name` maps to, or -1. */
  get(name: string): number {
    return this.#cells[this.#find(name)]! - 1
  }

  /** Maps `name` to `slot`, replacing what it mapped to. */
  set(name: string, slot: number): void {
    const cell = this.#find(name)
    if (this.#cells[cell] === EMPTY && 2 * ++this.#count > this.#cells.length) {
      this.#rehash(2 * this.#cells.length)
      this.#cells[this.#find(name)] = slot + 1
      return
    }
    this.#cells[cell] = slot + 1
  }

  /** Forgets `name`. Later cells of its run shift back, so no tombstone is left. */
  delete(name: string): void {
    const cells = this.#cells
    const mask = cells.length - 1
    let hole = this.#find(name)
    if (cells[hole] === EMPTY) return
    this.#count--
    for (let i = (hole + 1) & mask; cells[i] !== EMPTY; i = (i + 1) & mask) {
      const home = this.#hash(this.#nameOf(cells[i]! - 1)!) & mask
      // Move the entry into the hole unless its home lies cyclically in (hole, i]: then it is reachable already.
      if (hole <= i ? home <= hole || home > i : home <= hole && home > i) {
        cells[hole] = cells[i]!
        hole = i
      }
    }
    cells[hole] = EMPTY
  }

  /** The cell holding `name`, or the empty cell where it would go. */
  #find(name: string): number {
    const cells = this.#cells
    const mask = cells.length - 1
    let i = this.#hash(name) & mask
    while (cells[i] !== EMPTY && this.#nameOf(cells[i]! - 1) !== name) i = (i + 1) & mask
    return i
  }

  #rehash(length: number): void {
    const old = this.#cells
    this.#cells = new Int32Array(length)
    const mask = length - 1
    for (const cell of old) {
      if (cell === EMPTY) continue
      let i = this.#hash(this.#nameOf(cell - 1)!) & mask
      while (this.#cells[i] !== EMPTY) i = (i + 1) & mask
      this.#cells[i] = cell
    }
  }

  /** FNV-1a over the UTF-16 code units, from the seed. */
  #hash(name: string): number {
    let h = this.#seed
    for (let i = 0; i < name.length; i++) h = Math.imul(h ^ name.charCodeAt(i), 16_777_619)
    return h >>> 0
  }
}
