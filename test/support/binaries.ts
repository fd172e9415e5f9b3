import { execFileSync } from 'node:child_process'
import { accessSync, constants, readdirSync } from 'node:fs'
import { delimiter, join } from 'node:path'

function executable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK)
    return true
  } catch {
    return false
  }
}

function find(command: string, extraDirs: readonly string[]): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(delimiter), ...extraDirs]
  return dirs.map((dir) => join(dir, command)).find(executable)
}

/** PostgreSQL's server binaries live in a versioned directory that is not on PATH. */
export function postgresBinDirs(): string[] {
  try {
    return readdirSync('/usr/lib/postgresql')
      .sort((a, b) => Number(b) - Number(a))
      .map((version) => `/usr/lib/postgresql/${version}/bin`)
  } catch {
    return []
  }
}

const mayInstall = () => process.getuid?.() === 0 || process.env.CI !== undefined

/**
 * The path of `command`. When it is missing and this process may install packages (root, or CI), the Debian
 * package is installed; otherwise this throws with the exact command to run. A missing server is never a silent skip.
 */
export function requireBinary(command: string, debianPackage: string, extraDirs: () => string[] = () => []): string {
  const found = find(command, extraDirs())
  if (found) return found
  const install = `apt-get update && apt-get install -y --no-install-recommends ${debianPackage}`
  if (!mayInstall()) throw new Error(`${command} is not installed; run as root: ${install}`)
  execFileSync('sh', ['-c', install], { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  const installed = find(command, extraDirs())
  if (!installed) throw new Error(`${command} is still missing after \`${install}\``)
  return installed
}
