/** Command lines to commands and option values, through `node:util` parseArgs; every mistake is a `UsageError`. */
import { parseArgs } from 'node:util'
import { closestName } from '../validate.ts'
import { type Command, withHelp } from './command.ts'
import { UsageError } from './exit.ts'

/** The parsed options of `command`: strings and booleans by name, plus `help`. */
export type Values = Record<string, string | boolean | undefined>

/** Parses `argv` (what follows the command's words) against the options of `command`. */
export function parseOptions(command: Command, argv: string[]): Values {
  const specs = withHelp(command)
  const options = Object.fromEntries(
    Object.entries(specs).map(([name, { type, short }]) => [name, short ? { type, short } : { type }]),
  )
  try {
    return parseArgs({ args: argv, options, strict: true, allowPositionals: false }).values as Values
  } catch (error) {
    throw new UsageError(explain(error, Object.keys(specs)), command.name)
  }
}

/** parseArgs' messages, shorter and with a guess for a typo. */
function explain(error: unknown, known: string[]): string {
  const { code, message } = error as { code?: string; message: string }
  const quoted = /'([^']*)'/.exec(message)?.[1] ?? ''
  if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
    const guess = closestName(quoted.replace(/^-+/, ''), known)
    return `unknown option ${quoted}${guess ? ` (did you mean --${guess}?)` : ''}`
  }
  if (code === 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL') return `unexpected argument ${JSON.stringify(quoted)}`
  if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') {
    const name = quoted.split(' ')[0]
    return message.includes('argument missing') ? `option ${name} needs a value` : `option ${name} takes no value`
  }
  return message
}

/** A positive integer option within `max`, or `fallback`. */
export function intValue(name: string, value: string | undefined, fallback: number, max: number): number {
  if (value === undefined) return fallback
  const n = Number(value)
  if (!/^\d+$/.test(value) || n < 1 || n > max) throw new UsageError(`--${name} must be an integer from 1 to ${max}`)
  return n
}
