/** The CLI's exit codes, and which error ends in which. */
import { CoatcheckError } from '../errors.ts'
import { OutputClosed } from './format.ts'
import { BadStoreUrl, UnreachableStore } from './store-url.ts'

/** Exit codes: documented in `coatcheck --help`, stable for scripts. */
export const EXIT = {
  ok: 0,
  /** The command ran and failed: a store error, or nothing matched (an unknown handle). */
  failure: 1,
  /** Unknown command or option, a missing or invalid argument. */
  usage: 2,
  /** The store URL names no supported store, is malformed, or needs a client package that is not installed. */
  badUrl: 3,
  /** The store cannot be reached: connection refused or failed, no SQLite file there or it cannot be opened. */
  unreachable: 4,
  /** The store's tables are missing or out of date (PostgreSQL): `coatcheck migrate` fixes it. */
  notMigrated: 5,
} as const

/** A command line that does not say what to do. Exits 2 with the message and a pointer to `--help`. */
export class UsageError extends Error {
  /** The command whose help to point at, if known. */
  readonly command: string | undefined
  constructor(message: string, command?: string) {
    super(message)
    this.name = 'UsageError'
    this.command = command
  }
}

/** The store opened but its tables are not there (or lack columns): the message says to run `coatcheck migrate`. */
export class NotMigrated extends Error {}

/** A failure the command detected itself (nothing matched): exits 1 with the message. */
export class Failure extends Error {}

export function exitCodeOf(error: unknown): number {
  if (error instanceof OutputClosed) return EXIT.ok
  if (error instanceof UsageError) return EXIT.usage
  if (error instanceof BadStoreUrl) return EXIT.badUrl
  if (error instanceof UnreachableStore) return EXIT.unreachable
  if (error instanceof NotMigrated) return EXIT.notMigrated
  if (error instanceof CoatcheckError && error.code === 'INVALID_OPTION') return EXIT.usage
  return EXIT.failure
}

/** The one line (or two) printed on stderr for `error`: always `coatcheck: …`. */
export function messageOf(error: unknown): string {
  const text = error instanceof Error ? error.message || String(error) : String(error)
  const line = `coatcheck: ${text.replace(/^coatcheck: /, '')}`
  if (!(error instanceof UsageError)) return line
  return `${line}\nRun "coatcheck ${error.command ? `${error.command} ` : ''}--help" for usage.`
}
