/** The `coatcheck` command line: finds the command, parses its options, opens its store, maps failures to exit codes. */
import { readFileSync } from 'node:fs'
import { CoatcheckError } from '../errors.ts'
import { closestName, identifierOption } from '../validate.ts'
import { parseOptions, type Values } from './args.ts'
import type { Command, Context } from './command.ts'
import { secret } from './commands/secret.ts'
import { list, revoke } from './commands/sessions.ts'
import { migrate, prune, stats } from './commands/store.ts'
import { EXIT, exitCodeOf, messageOf, NotMigrated, UsageError } from './exit.ts'
import { Output } from './format.ts'
import { commandHelp, toolHelp } from './help.ts'
import { type OpenedStore, openStore, UnreachableStore } from './store-url.ts'

/** Every command, in the order the tool's help lists them. */
export const COMMANDS: readonly Command[] = [list, revoke, prune, stats, migrate, secret]

/** Where the CLI reads and writes; the process's own by default. */
export interface Io {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  env: NodeJS.ProcessEnv
}

/** Runs one command line (without `node` and the script) and resolves its exit code (see `EXIT`). */
export async function run(argv: string[], io: Io = process): Promise<number> {
  const out = new Output(io.stdout)
  const note = (text: string) => void io.stderr.write(`${text}\n`)
  try {
    const [first, ...rest] = argv
    if (first === undefined) {
      note(toolHelp(COMMANDS))
      return EXIT.usage
    }
    if (first === '--version' || first === '-v') {
      await out.line(version())
      return EXIT.ok
    }
    if (first === 'help' || first === '--help' || first === '-h') {
      await out.line(helpFor(rest))
      return EXIT.ok
    }
    const { command, args } = find(argv)
    if (command === undefined) {
      await out.line(toolHelp(COMMANDS, first))
      return EXIT.ok
    }
    const values = parseOptions(command, args)
    if (values.help) {
      await out.line(commandHelp(command))
      return EXIT.ok
    }
    let opened: Promise<OpenedStore> | undefined
    const context: Context = {
      string: (name) => values[name] as string | undefined,
      flag: (name) => values[name] === true,
      out,
      note,
      open: (options) => {
        opened ??= openFrom(command, values, io.env, options?.create === true)
        return opened
      },
    }
    try {
      await command.run(context)
    } finally {
      const store = await opened?.catch(() => undefined)
      await store?.close()
    }
    return EXIT.ok
  } catch (error) {
    const code = exitCodeOf(error)
    if (code !== EXIT.ok) note(messageOf(error))
    return code
  }
}

/**
 * The command `argv` names and the arguments after its words. `command` is undefined for a group asked for its help
 * (`coatcheck sessions --help`); anything else that names no command is a UsageError.
 */
function find(argv: string[]): { command: Command | undefined; args: string[] } {
  const [first = '', second] = argv
  const group = COMMANDS.filter((c) => c.name.startsWith(`${first} `))
  if (group.length > 0) {
    if (second === '--help' || second === '-h') return { command: undefined, args: [] }
    const words = group.map((c) => c.name.split(' ')[1]!)
    if (second === undefined || second.startsWith('-')) {
      throw new UsageError(`"${first}" needs a command: ${words.join(' or ')}`, first)
    }
    const command = group.find((c) => c.name === `${first} ${second}`)
    if (command) return { command, args: argv.slice(2) }
    const guess = closestName(second, words)
    throw new UsageError(
      `unknown command "${first} ${second}"${guess ? ` (did you mean "${first} ${guess}"?)` : ''}`,
      first,
    )
  }
  const command = COMMANDS.find((c) => c.name === first)
  if (command) return { command, args: argv.slice(1) }
  const guess = closestName(first, [...new Set(COMMANDS.map((c) => c.name.split(' ')[0]!))])
  throw new UsageError(`unknown command "${first}"${guess ? ` (did you mean "${guess}"?)` : ''}`)
}

/** `coatcheck help [command…]`. */
function helpFor(words: string[]): string {
  if (words.length === 0) return toolHelp(COMMANDS)
  const { command } = find(words.length === 1 ? [...words, '--help'] : words.slice(0, 2))
  return command ? commandHelp(command) : toolHelp(COMMANDS, words[0])
}

async function openFrom(command: Command, values: Values, env: NodeJS.ProcessEnv, create: boolean) {
  const url = (values.store as string | undefined) || env.STORE_URL
  if (!url) throw new UsageError('--store URL is required (or set STORE_URL)', command.name)
  const prefix = values.prefix as string | undefined
  if (prefix === '') throw new UsageError('--prefix must not be empty', command.name)
  const tablePrefix = values['table-prefix'] as string | undefined
  try {
    identifierOption('table-prefix', tablePrefix, undefined, 40)
  } catch (error) {
    throw new UsageError((error as Error).message.replace(/^coatcheck: option `table-prefix`/, '--table-prefix'))
  }
  try {
    return await openStore(url, { prefix, tablePrefix, createTables: create })
  } catch (error) {
    // Past the connection, the only verdict of a store that opens without creating is its tables': missing, or
    // made by an older version.
    if (error instanceof CoatcheckError && error.code === 'STORE_ERROR' && !(error instanceof UnreachableStore)) {
      const fix = `run "coatcheck migrate --store <url>" to create or upgrade them`
      throw new NotMigrated(`${error.message.replace(/; run `migrate.*$/, '')}; ${fix}`, { cause: error })
    }
    throw error
  }
}

function version(): string {
  // ../../package.json from both src/cli/ and dist/cli/.
  const pkg = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }
  return `coatcheck ${pkg.version}`
}
