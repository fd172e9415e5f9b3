import type { SessionMeta, SessionRecord, StoredData } from '../types.ts'
import { DataCodec } from './codec.ts'
import { heapFix, heapInsert, heapRemove } from './heap.ts'
import { SlotIndex } from './slot-index.ts'

// Sessions in slots: a key maps to a small integer, and each field of a session is one element of a column (typed
// arrays for the times and links, so no number is boxed). A session costs its key, its map entry, one string of data
// (`codec.ts`) and about 80 bytes of columns, where one object per record with its own objects inside cost three
// times express-session's bytes. Reads build the `SessionRecord` the contract hands out; the last `HOT` built are kept
// (frozen, dropped at any write to their session), so a session's run of requests decodes it once.

/** Records kept decoded at most; the memory bench counts them. */
const HOT = 1024
const NONE = -1
const EMPTY_META: SessionMeta = Object.freeze({})

export class SessionTable {
  readonly #slotOf = new SlotIndex((slot) => this.#keys[slot]!)
  readonly #codec = new DataCodec()
  readonly #limit: number
  readonly #keys: string[] = []
  readonly #texts: (string | StoredData)[] = []
  readonly #users: (string | null)[] = []
  readonly #metas: SessionMeta[] = []
  #capacity = 0
  /** Per slot: the deadline the eviction heaps order by, and createdAt, lastSeenAt, absoluteExpiresAt (3 per slot). */
  #expires = new Float64Array(0)
  #times = new Float64Array(0)
  /** Per slot: its index in its eviction heap, and its neighbours in its user's circular list. */
  #pos = new Int32Array(0)
  #next = new Int32Array(0)
  #prev = new Int32Array(0)
  readonly #free: number[] = []
  /** Eviction heaps: the class (anonymous or with a user) is fixed at create. */
  readonly #anonymous: number[] = []
  readonly #withUser: number[] = []
  /** The first slot of each user's list. */
  readonly #firstOf = new SlotIndex((slot) => this.#users[slot]!)
  /** Decoded records by slot, oldest first. */
  readonly #hot = new Map<number, SessionRecord>()

  /** `limit` is the most records held at once: the typed columns never grow past it. */
  constructor(limit: number) {
    this.#limit = limit
  }

  get size(): number {
    return this.#slotOf.size
  }

  /** The slot of the record under `key`, or -1; a record whose deadline is at or before `now` is deleted. */
  live(key: string, now: number): number {
    const slot = this.#slotOf.get(key)
    if (slot < 0) return NONE
    if (this.#expires[slot]! > now) return slot
    this.#drop(slot)
    return NONE
  }

  /** The frozen record in `slot` (data and meta frozen too): the store's own, so never to be written. */
  record(slot: number): SessionRecord {
    const hot = this.#hot.get(slot)
    if (hot !== undefined) return hot
    const record: SessionRecord = Object.freeze({
      data: this.#codec.decode(this.#texts[slot]!),
      userId: this.#users[slot]!,
      meta: this.#metas[slot]!,
      createdAt: this.#times[3 * slot]!,
      lastSeenAt: this.#times[3 * slot + 1]!,
      expiresAt: this.#expires[slot]!,
      absoluteExpiresAt: this.#times[3 * slot + 2]!,
    })
    if (this.#hot.size >= HOT) this.#hot.delete(this.#hot.keys().next().value!)
    this.#hot.set(slot, record)
    return record
  }

  /** The frozen data in `slot`. */
  data(slot: number): StoredData {
    return this.#hot.get(slot)?.data ?? this.#codec.decode(this.#texts[slot]!)
  }

  /** Stores a copy of `record` under `key`, replacing any record there. */
  add(key: string, record: SessionRecord): void {
    this.delete(key)
    const slot = this.#free.pop() ?? this.#grow()
    this.#keys[slot] = key
    this.#slotOf.set(key, slot)
    this.#texts[slot] = this.#codec.encode(record.data)
    this.#users[slot] = record.userId
    this.#metas[slot] = frozenMeta(record.meta)
    this.#expires[slot] = record.expiresAt
    this.#times[3 * slot] = record.createdAt
    this.#times[3 * slot + 1] = record.lastSeenAt
    this.#times[3 * slot + 2] = record.absoluteExpiresAt
    heapInsert(this.#heapOf(slot), slot, this.#expires, this.#pos)
    if (record.userId !== null) this.#link(slot, record.userId)
  }

  delete(key: string): boolean {
    const slot = this.#slotOf.get(key)
    if (slot < 0) return false
    this.#drop(slot)
    return true
  }

  /** Replaces the data in `slot` with `data`, which the table keeps (frozen) as is: the caller must not hold it. */
  setData(slot: number, data: StoredData): void {
    this.#texts[slot] = this.#codec.encode(data)
    this.#refresh(slot, { data: Object.freeze(data) })
  }

  setMeta(slot: number, meta: SessionMeta): void {
    this.#metas[slot] = frozenMeta(meta)
    this.#refresh(slot, { meta: this.#metas[slot] })
  }

  setLastSeen(slot: number, lastSeenAt: number): void {
    this.#times[3 * slot + 1] = lastSeenAt
    this.#refresh(slot, { lastSeenAt })
  }

  setExpires(slot: number, expiresAt: number): void {
    if (this.#expires[slot] === expiresAt) return
    this.#expires[slot] = expiresAt
    this.#refresh(slot, { expiresAt })
    heapFix(this.#heapOf(slot), this.#pos[slot]!, this.#expires, this.#pos)
  }

  /**
   * Keeps a hot record in step with a write to its slot, rather than dropping it: a session just written is read
   * again soon (the engine reads before it writes), and decoding it from its text costs far more than this copy.
   */
  #refresh(slot: number, change: Partial<SessionRecord>): void {
    const hot = this.#hot.get(slot)
    if (hot !== undefined) this.#hot.set(slot, Object.freeze({ ...hot, ...change }))
  }

  /** The keys of one user's records, as a snapshot, so callers may delete while they iterate. */
  keysOf(userId: string): string[] {
    const first = this.#firstOf.get(userId)
    const keys: string[] = []
    if (first < 0) return keys
    let slot = first
    do {
      keys.push(this.#keys[slot]!)
      slot = this.#next[slot]!
    } while (slot !== first)
    return keys
  }

  /** Deletes every record of one user but `exceptKey`; returns how many of them were live. */
  deleteUser(userId: string, now: number, exceptKey?: string): number {
    let live = 0
    for (const key of this.keysOf(userId)) {
      if (key === exceptKey) continue
      if (this.#expires[this.#slotOf.get(key)]! > now) live++
      this.delete(key)
    }
    return live
  }

  /** Deletes every record whose deadline is at or before `now`; returns how many. */
  dropExpired(now: number): number {
    let dropped = 0
    for (const heap of [this.#anonymous, this.#withUser]) {
      while (heap.length > 0 && this.#expires[heap[0]!]! <= now) {
        this.#drop(heap[0]!)
        dropped++
      }
    }
    return dropped
  }

  /** Deletes the anonymous record that expires soonest, or with none left the soonest logged-in one. */
  evictOne(): boolean {
    const slot = this.#anonymous[0] ?? this.#withUser[0]
    if (slot === undefined) return false
    this.#drop(slot)
    return true
  }

  #drop(slot: number): void {
    this.#slotOf.delete(this.#keys[slot]!)
    heapRemove(this.#heapOf(slot), slot, this.#expires, this.#pos)
    const userId = this.#users[slot]!
    if (userId !== null) this.#unlink(slot, userId)
    // Let go of what the slot held; its numbers are overwritten when it is reused.
    this.#keys[slot] = ''
    this.#texts[slot] = ''
    this.#users[slot] = null
    this.#metas[slot] = EMPTY_META
    this.#hot.delete(slot)
    this.#free.push(slot)
  }

  #heapOf(slot: number): number[] {
    return this.#users[slot] === null ? this.#anonymous : this.#withUser
  }

  #link(slot: number, userId: string): void {
    const first = this.#firstOf.get(userId)
    if (first < 0) {
      this.#firstOf.set(userId, slot)
      this.#next[slot] = slot
      this.#prev[slot] = slot
      return
    }
    const last = this.#prev[first]!
    this.#next[last] = slot
    this.#prev[slot] = last
    this.#next[slot] = first
    this.#prev[first] = slot
  }

  #unlink(slot: number, userId: string): void {
    const next = this.#next[slot]!
    if (next === slot) {
      this.#firstOf.delete(userId)
      return
    }
    const prev = this.#prev[slot]!
    this.#next[prev] = next
    this.#prev[next] = prev
    if (this.#firstOf.get(userId) === slot) this.#firstOf.set(userId, next)
  }

  /** A new slot at the end of the columns; the typed ones double when full, up to the limit. */
  #grow(): number {
    const slot = this.#keys.length
    this.#keys.push('')
    this.#texts.push('')
    this.#users.push(null)
    this.#metas.push(EMPTY_META)
    if (slot === this.#capacity) {
      const doubled = Math.max(16, 2 * this.#capacity)
      this.#capacity = slot < this.#limit ? Math.min(doubled, this.#limit) : doubled
      this.#expires = grown(this.#expires, this.#capacity)
      this.#times = grown(this.#times, 3 * this.#capacity)
      this.#pos = grown(this.#pos, this.#capacity)
      this.#next = grown(this.#next, this.#capacity)
      this.#prev = grown(this.#prev, this.#capacity)
    }
    return slot
  }
}

function grown<T extends Float64Array | Int32Array>(array: T, length: number): T {
  const bigger = new (array.constructor as new (length: number) => T)(length)
  bigger.set(array)
  return bigger
}

/**
 * `meta` copied and frozen, so reads can hand it out without letting a caller reach the store's state. Spreading
 * defines own properties, so a meta key named `__proto__` stays a plain key. Meta without keys (every anonymous
 * session's) shares one frozen object.
 */
export function frozenMeta(meta: SessionMeta): SessionMeta {
  return Object.keys(meta).length === 0 ? EMPTY_META : Object.freeze({ ...meta })
}
