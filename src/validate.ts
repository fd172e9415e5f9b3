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

/**
 * Checks that `options` is an object (or undefined) whose keys are all in `known`, so a typo fails at start-up:
 * "option `pruneIntreval` is not a known option of sqliteStore(); did you mean `pruneInterval`?". `hints` maps a key
 * that is known elsewhere (an express-session option, say) to what to use instead. `prefix` names a nested object
 * (`cookie.`).
 */
export function knownKeys(
  factory: string,
  options: unknown,
  known: readonly string[],
  { prefix = '', hints = {} }: { prefix?: string; hints?: Readonly<Record<string, string>> } = {},
): void {
  if (options === undefined) return
  if (typeof options !== 'object' || options === null || Array.isArray(options)) {
    throw invalidOption(prefix ? prefix.slice(0, -1) : 'options', `of ${factory} must be an object`)
  }
  for (const key of Object.keys(options)) {
    if (known.includes(key)) continue
    const hint = Object.hasOwn(hints, key) ? hints[key] : nearest(key, known)
    throw invalidOption(`${prefix}${key}`, `is not a known option of ${factory}${hint ? `; ${hint}` : ''}`)
  }
}

/** "did you mean `x`?" for the known name closest to `key`, when one is close enough to be a typo. */
function nearest(key: string, known: readonly string[]): string | undefined {
  const best = closestName(key, known)
  return best && `did you mean \`${best}\`?`
}

/** The known name closest to `word` (case aside), when it is close enough to be a typo. */
export function closestName(word: string, known: readonly string[]): string | undefined {
  let best: string | undefined
  let bestDistance = Math.max(2, Math.floor(word.length / 3)) + 1
  for (const name of known) {
    const d = distance(word.toLowerCase(), name.toLowerCase())
    if (d < bestDistance) {
      best = name
      bestDistance = d
    }
  }
  return best
}

/** Optimal string alignment distance: edits, with a swap of two neighbours counted as one. */
function distance(a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) rows[0]![j] = j
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      let d = Math.min(rows[i - 1]![j]! + 1, rows[i]![j - 1]! + 1, rows[i - 1]![j - 1]! + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d = Math.min(d, rows[i - 2]![j - 2]! + 1)
      rows[i]![j] = d
    }
  }
  return rows[a.length]![b.length]!
}

/** A boolean option, or `fallback` when undefined. Throws naming the option otherwise. */
export function boolOption(name: string, value: unknown, fallback: boolean): boolean {
  return oneOf(name, value, [true, false], fallback)
}

/** The identifier rule of table prefixes and schema names, on every backend: it is pasted into SQL unquoted-safe. */
export const IDENTIFIER = /^[a-z_][a-z0-9_]*$/

/** A table prefix or schema name matching {@link IDENTIFIER} and at most `max` characters, or `fallback`. */
export function identifierOption(name: string, value: unknown, fallback: string | undefined, max: number) {
  if (value === undefined) return fallback
  if (typeof value !== 'string' || !IDENTIFIER.test(value) || value.length > max) {
    throw invalidOption(
      name,
      `must match ${IDENTIFIER} (lowercase letters, digits, _) and be at most ${max} characters`,
    )
  }
  return value
}
