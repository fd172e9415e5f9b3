/**
 * What a session data key and a user ID may be, checked once above the stores so that every backend behaves like one:
 * PostgreSQL's jsonb refuses U+0000 and lone surrogates, Redis turns a lone surrogate into U+FFFD (so `q\ud800` and
 * `q\udbff` would be one user), and SQLite's text does the same.
 */
import { CoatcheckError } from '../errors.ts'

/** The longest data key, in UTF-16 code units. */
export const MAX_KEY_LENGTH = 128
/** The longest user ID, in UTF-16 code units. */
export const MAX_USER_ID_LENGTH = 256

/** Why `text` cannot be stored as a key or ID, or undefined when it can. */
function flaw(text: string, max: number): string | undefined {
  if (text.length === 0) return 'is empty'
  if (text.length > max) return `is longer than ${max} characters`
  if (!text.isWellFormed()) return 'holds a lone surrogate (not well-formed Unicode)'
  if (text.includes('\0')) return 'holds U+0000'
  return undefined
}

/** Throws `INVALID_KEY` when `key` cannot be a session data key on every backend. */
export function checkDataKey(key: string): void {
  const problem = flaw(key, MAX_KEY_LENGTH)
  if (problem) throw new CoatcheckError('INVALID_KEY', `coatcheck: session key ${JSON.stringify(key)} ${problem}`)
}

/**
 * The user ID as stored: a string as it is, a safe integer as its decimal string (apps with numeric IDs from SQL).
 * Throws `INVALID_USER_ID` for anything else, or a string no backend could keep exactly.
 */
export function toUserId(userId: unknown): string {
  const id = typeof userId === 'number' && Number.isSafeInteger(userId) ? String(userId) : userId
  if (typeof id !== 'string') {
    throw new CoatcheckError(
      'INVALID_USER_ID',
      `coatcheck: a user ID must be a string (or an integer), not ${kind(id)}`,
    )
  }
  const problem = flaw(id, MAX_USER_ID_LENGTH)
  if (problem) throw new CoatcheckError('INVALID_USER_ID', `coatcheck: the user ID ${problem}`)
  return id
}

function kind(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
}
