import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after } from 'node:test'
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import { csrfSuite } from './suite.ts'

const dir = mkdtempSync(join(tmpdir(), 'coatcheck-csrf-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

/** Session rows in the file, read through a connection of our own, as another process would see them. */
function sessionRows(path: string): number {
  const db = new DatabaseSync(path, { readOnly: true })
  try {
    return db.prepare('SELECT count(*) AS n FROM coatcheck_sessions').get()!.n as number
  } finally {
    db.close()
  }
}

csrfSuite('sqlite', async () => {
  const path = join(dir, `csrf-${n++}.db`)
  return { store: sqliteStore({ path }), rows: () => sessionRows(path) }
})
