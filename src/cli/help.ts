/** The help texts: the tool's (commands, store URLs, exit codes) and each command's, from its spec. */
import { type Command, withHelp } from './command.ts'

const URLS = `Store URLs (--store URL, or the STORE_URL environment variable, as the app reads it):
  sqlite:data/app.db                      a SQLite file, relative to the current directory
  redis://[user:pass@]host:6379[/db]      Redis or Valkey (rediss:// for TLS)
  redis+cluster://host:7000,host:7001     Redis Cluster: any of its nodes
  postgres://user:pass@host:5432/db       PostgreSQL`

const EXIT_CODES = `Exit codes:
  0  success
  1  failure: a store error, or nothing matched (an unknown handle)
  2  usage error: unknown command or option, a missing or invalid argument
  3  bad store URL: unsupported or malformed, or its client package (redis, pg) is not installed
  4  store unreachable: connection refused or failed, no SQLite file at that path
  5  store not migrated: its tables are missing or out of date (run "coatcheck migrate")`

/** `coatcheck --help`; `group` narrows the command list to one group (`sessions`). */
export function toolHelp(commands: readonly Command[], group?: string): string {
  const shown = commands.filter((c) => group === undefined || c.name.startsWith(`${group} `))
  const width = Math.max(...shown.map((c) => c.name.length)) + 2
  const lines = shown.map((c) => `  ${c.name.padEnd(width)}${c.summary}`)
  return `coatcheck: inspect and manage the sessions of a coatcheck store

Usage: coatcheck ${group ?? '<command>'} ${group ? '<command> ' : ''}[options]

Commands:
${lines.join('\n')}

${URLS}

Every command takes --help (-h); listings and reports take --json.

${EXIT_CODES}

Run "coatcheck <command> --help" for the options of a command.`
}

/** `coatcheck <command> --help`. */
export function commandHelp(command: Command): string {
  const options = Object.entries(withHelp(command))
  const names = options.map(([name, spec]) => {
    const flag = `${spec.short ? `-${spec.short}, ` : ''}--${name}`
    return spec.type === 'string' ? `${flag} ${spec.value ?? 'VALUE'}` : flag
  })
  const width = Math.max(...names.map((n) => n.length)) + 2
  const lines = options.map(([, spec], i) => `  ${names[i]!.padEnd(width)}${spec.help}`)
  return `coatcheck ${command.name}: ${command.summary}

Usage: coatcheck ${command.name} ${command.usage}

${command.description}

Options:
${lines.join('\n')}

${EXIT_CODES}`
}
