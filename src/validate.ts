import { invalidOption } from './errors.ts'

/** The longest delay a Node timer takes (2³¹ − 1 ms); intervals and timeouts beyond it fire at once. */
export const MAX_TIMER_DELAY = 2 ** 31 - 1

/** Range of an integer option. */
export interface IntRange {
  /** Smallest allowed value. Default 1. */
  min?: number
  /** Largest allowed value. Default `Number.MAX_SAFE_INTEGER`; `MAX_TIMER_DELAY` for timer options. */
  max?: number
}

/**
 * An integer option within `range`, or `fallback` when it is undefined (no fallback: the option is required). Throws
 * naming the option otherwise.
 */
export function intOption(name: string, value: unknown, fallback: number | undefined, range: IntRange = {}): number {
  if (value === undefined) {
    if (fallback === undefined) throw invalidOption(name, 'is required')
    return fallback
  }
  const { min = 1, max = Number.MAX_SAFE_INTEGER } = range
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > max) {
    const bounds = max === Number.MAX_SAFE_INTEGER ? `≥ ${min}` : `from ${min} to ${max}`
    throw invalidOption(name, `must be an integer ${bounds}`)
  }
  return value as number
}

/** One of `allowed`, or `fallback` when undefined. Throws naming the option otherwise. */
export function oneOf<const T>(name: string, value: unknown, allowed: readonly T[], fallback: T): T {
  if (value === undefined) return fallback
  if (!allowed.includes(value as T)) throw invalidOption(name, `must be one of ${allowed.map(String).join(', ')}`)
  return value as T
}

/** A function option, or `fallback` when undefined. Throws naming the option otherwise. */
export function fnOption<F extends (...args: never[]) => unknown>(name: string, value: unknown, fallback: F): F
export function fnOption<F extends (...args: never[]) => unknown>(name: string, value: unknown): F | undefined
export function fnOption<F extends (...args: never[]) => unknown>(name: string, value: unknown, fallback?: F) {
  if (value === undefined) return fallback
  if (typeof value !== 'function') throw invalidOption(name, 'must be a function')
  return value as F
}
