import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { after } from 'node:test'
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import { authSuite } from './suite.ts'

const dir = mkdtempSync(join(tmpdir(), 'coatcheck-auth-'))
after(() => rmSync(dir, { recursive: true, force: true }))
let n = 0

authSuite('sqlite', async () => sqliteStore({ path: join(dir, `auth-${n++}.db`) }))
