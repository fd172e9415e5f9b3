import { CoatcheckError } from '../errors.ts'
import type { StoredData } from '../stores/types.ts'
import { parseStored } from './json.ts'

/** Names that belong to coatcheck, not to session data; `__proto__`, `constructor` and `prototype` are never keys. */
export const RESERVED: ReadonlySet<string> = new Set([
  'id',
  'userId',
  'regenerate',
  'destroy',
  'save',
  'reload',
  'touch',
  '__proto__',
  'constructor',
  'prototype',
])

/** The object whose members the reserved names resolve to (the request's session context). */
export type Reserved = object

/** The changes since the last write, as a store patch would carry them. */
export interface DataDiff {
  set: StoredData
  unset: string[]
  /** True when `set` or `unset` holds anything. */
  changed: boolean
  /** Serialized size of the whole session after the change (keys + JSON values), in bytes. */
  bytes: number
}

/**
 * The data of one session, exposed as a plain-looking object (a Proxy) that tracks which top-level keys may have
 * changed. Stored values stay JSON text until read. A key counts as touched when it is assigned, deleted, or read
 * while holding an object (which the caller may mutate in place); at write time only touched keys are serialized and
 * compared with what the store holds.
 */
export class SessionDataTracker {
  /** The JSON text per key as the store holds it. */
  private readonly stored: Map<string, string>
  private readonly unparsed: Set<string>
  private readonly touched = new Set<string>()
  private readonly values: Record<string, unknown> = Object.create(null)
  readonly proxy: Record<string, unknown>

  constructor(stored: StoredData, reserved: Reserved) {
    this.stored = new Map()
    for (const key in stored) if (!RESERVED.has(key)) this.stored.set(key, stored[key]!)
    this.unparsed = new Set(this.stored.keys())
    this.proxy = new Proxy(this.values, this.handler(reserved))
  }

  /** A tracker for a new session that starts with `values` (all of them to be written). */
  static withValues(values: Record<string, unknown>, reserved: Reserved): SessionDataTracker {
    const tracker = new SessionDataTracker({}, reserved)
    for (const key of Object.keys(values)) tracker.proxy[key] = values[key]
    return tracker
  }

  /** Every key with its current value (parsing what has not been read yet). */
  snapshot(): Record<string, unknown> {
    this.parseAll()
    const copy: Record<string, unknown> = {}
    for (const key of Object.keys(this.values)) copy[key] = this.values[key]
    return copy
  }

  /** True when the session holds no data at all. */
  isEmpty(): boolean {
    for (const _ in this.values) return false
    return this.unparsed.size === 0
  }

  diff(): DataDiff {
    const set: StoredData = {}
    const unset: string[] = []
    for (const key of this.touched) {
      const json = Object.hasOwn(this.values, key) ? JSON.stringify(this.values[key]) : undefined
      if (json === undefined) {
        if (this.stored.has(key)) unset.push(key)
      } else if (this.stored.get(key) !== json) {
        set[key] = json
      }
    }
    const changed = unset.length > 0 || Object.keys(set).length > 0
    return { set, unset, changed, bytes: changed ? this.sizeAfter(set, unset) : 0 }
  }

  /** Records that `diff` reached the store. Keys holding objects stay touched: they can still be mutated in place. */
  settle(diff: DataDiff): void {
    for (const key in diff.set) this.stored.set(key, diff.set[key]!)
    for (const key of diff.unset) this.stored.delete(key)
    for (const key of this.touched) {
      const value = this.values[key]
      if (typeof value !== 'object' || value === null) this.touched.delete(key)
    }
  }

  private sizeAfter(set: StoredData, unset: string[]): number {
    let bytes = 0
    for (const [key, json] of this.stored) {
      if (!Object.hasOwn(set, key) && !unset.includes(key)) bytes += Buffer.byteLength(key) + Buffer.byteLength(json)
    }
    for (const key in set) bytes += Buffer.byteLength(key) + Buffer.byteLength(set[key]!)
    return bytes
  }

  private parse(key: string): void {
    if (!this.unparsed.delete(key)) return
    this.values[key] = parseStored(this.stored.get(key)!)
  }

  private parseAll(): void {
    for (const key of this.unparsed) this.parse(key)
  }

  private handler(reserved: Reserved): ProxyHandler<Record<string, unknown>> {
    const refuse = (key: string): never => {
      throw new CoatcheckError('RESERVED_KEY', `coatcheck: \`${key}\` is reserved and cannot be set on a session`)
    }
    return {
      get: (target, key) => {
        if (typeof key === 'symbol') return undefined
        if (RESERVED.has(key)) {
          const member = (reserved as Record<string, unknown>)[key]
          return typeof member === 'function' ? member.bind(reserved) : member
        }
        this.parse(key)
        const value = target[key]
        if (typeof value === 'object' && value !== null) this.touched.add(key)
        return value
      },
      set: (target, key, value) => {
        if (typeof key === 'symbol' || RESERVED.has(key)) return refuse(String(key))
        this.unparsed.delete(key)
        target[key] = value
        this.touched.add(key)
        return true
      },
      deleteProperty: (target, key) => {
        if (typeof key === 'symbol' || RESERVED.has(key)) return refuse(String(key))
        this.unparsed.delete(key)
        delete target[key]
        this.touched.add(key)
        return true
      },
      has: (target, key) =>
        typeof key === 'string' && (RESERVED.has(key) || this.unparsed.has(key) || Object.hasOwn(target, key)),
      ownKeys: (target) => {
        this.parseAll()
        return Reflect.ownKeys(target)
      },
      getOwnPropertyDescriptor: (target, key) => {
        if (typeof key === 'symbol' || RESERVED.has(key)) return undefined
        this.parse(key)
        const descriptor = Reflect.getOwnPropertyDescriptor(target, key)
        if (descriptor && typeof descriptor.value === 'object' && descriptor.value !== null) this.touched.add(key)
        return descriptor
      },
      defineProperty: (target, key, descriptor) => {
        if (typeof key === 'symbol' || RESERVED.has(key) || !('value' in descriptor)) return refuse(String(key))
        this.unparsed.delete(key)
        target[key] = descriptor.value
        this.touched.add(key)
        return true
      },
      setPrototypeOf: () => false,
    }
  }
}
