import { execFileSync } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'

// The SQLite anchor, better-sqlite3-session-store, runs on better-sqlite3, a native addon. better-sqlite3 13 ships
// Node-API prebuilds inside its npm package (no install script, no compiler), so it loads on any Node ≥ 22 here. Where
// it does not load (a platform without a prebuild), the same store code runs on node:sqlite's DatabaseSync, whose
// API is the one the store uses, and every table says so.

const require = createRequire(import.meta.url)
const root = fileURLToPath(new URL('..', import.meta.url))

/** Which SQLite client the anchor runs on, and its version. */
export interface SqliteAnchor {
  client: 'better-sqlite3' | 'node:sqlite'
  label: string
}

// In a child, so that an addon which fails to load leaves this process as it was.
function loads(): boolean {
  const check = `const D = require(${JSON.stringify(require.resolve('better-sqlite3'))}); new D(':memory:').close()`
  try {
    execFileSync(process.execPath, ['-e', check], { stdio: 'ignore', timeout: 30_000 })
    return true
  } catch {
    return false
  }
}

const version = (pkg: string) =>
  (JSON.parse(readFileSync(join(root, 'node_modules', pkg, 'package.json'), 'utf8')) as { version: string }).version

/** better-sqlite3 when it loads here, else node:sqlite. */
export function sqliteAnchor(): SqliteAnchor {
  const store = `better-sqlite3-session-store ${version('better-sqlite3-session-store')}`
  if (loads()) return { client: 'better-sqlite3', label: `${store} on better-sqlite3 ${version('better-sqlite3')}` }
  console.error('bench: better-sqlite3 does not load here; the SQLite anchor runs on node:sqlite instead')
  return { client: 'node:sqlite', label: `${store} on node:sqlite (better-sqlite3 did not load)` }
}
