import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import { cliSuite } from './suite.ts'

const dir = mkdtempSync(join(tmpdir(), 'coatcheck-cli-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

cliSuite({
  name: 'sqlite',
  prunes: true,
  async fresh() {
    const path = join(dir, `cli-${n++}.db`)
    return { args: ['--store', `sqlite:${path}`], store: sqliteStore({ path }) }
  },
  async blank() {
    return ['--store', `sqlite:${join(dir, `new-${n++}`, 'app.db')}`]
  },
})
