/** What a CLI command is: its words, its help, its options, and what it does with them. */
import type { Output } from './format.ts'
import type { OpenedStore } from './store-url.ts'

/** One option, as `node:util` parseArgs takes it plus its help. */
export interface OptionSpec {
  type: 'string' | 'boolean'
  short?: string
  /** The placeholder of a string option's value in help (`URL`, `ID`). */
  value?: string
  help: string
}

/** What a command's `run` gets. */
export interface Context {
  /** A string option's value, or undefined when it was not given. */
  string(name: string): string | undefined
  /** Whether a boolean option was given. */
  flag(name: string): boolean
  /** Standard output, a line at a time. */
  readonly out: Output
  /** A line on standard error: progress and notes, never the result. */
  note(text: string): void
  /**
   * Opens the store of `--store` (or `STORE_URL`), once; it is closed after the command. `create` makes what is
   * missing (the SQLite file, the PostgreSQL tables); without it a missing database is an error and nothing is created.
   */
  open(options?: { create?: boolean }): Promise<OpenedStore>
}

export interface Command {
  /** The words that name it: `sessions list`. */
  readonly name: string
  /** One line, for the tool's help. */
  readonly summary: string
  /** The synopsis after `coatcheck <name> `. */
  readonly usage: string
  /** Paragraphs for the command's help. */
  readonly description: string
  /** Its options, `--help` aside (added to every command). */
  readonly options: Readonly<Record<string, OptionSpec>>
  run(context: Context): Promise<void>
}

/** `command`'s options with the `--help` (-h) every command takes. */
export function withHelp(command: Command): Readonly<Record<string, OptionSpec>> {
  return { ...command.options, help: { type: 'boolean', short: 'h', help: 'Show this help' } }
}

/** The options of every command that opens a store. */
export const STORE_OPTIONS: Readonly<Record<string, OptionSpec>> = {
  store: {
    type: 'string',
    value: 'URL',
    help: 'The store: sqlite:<path>, redis://…, redis+cluster://…, postgres://… (default $STORE_URL)',
  },
  prefix: { type: 'string', value: 'P', help: 'Redis key prefix the app uses (default coatcheck:)' },
  'table-prefix': {
    type: 'string',
    value: 'P',
    help: 'SQLite / PostgreSQL table prefix the app uses (default coatcheck_)',
  },
}

export const JSON_OPTION: Readonly<Record<string, OptionSpec>> = {
  json: { type: 'boolean', help: 'Machine-readable output (JSON)' },
}
