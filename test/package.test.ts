import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { describe, it } from 'node:test'
import { promisify } from 'node:util'

const run = promisify(execFile)
const node = process.execPath

// These run against dist/, which `npm test` builds first (`npm run build`): what a user installs.
describe('the built package', () => {
  it('every subpath export imports as ESM, and the drop-in face also through require()', async () => {
    const esm = `
      import { session, memoryStore, logIn, loginThrottle } from 'coatcheck'
      import { sqliteStore } from 'coatcheck/sqlite'
      import { redisStore } from 'coatcheck/redis'
      import { postgresStore, migrate } from 'coatcheck/postgres'
      import dropIn, { Store, MemoryStore, upgradeSessions } from 'coatcheck/express-session'
      const all = [session, memoryStore, logIn, loginThrottle, sqliteStore, redisStore, postgresStore, migrate, dropIn, Store, MemoryStore, upgradeSessions]
      console.log(all.map((f) => typeof f).join(','))`
    const { stdout } = await run(node, ['--input-type=module', '-e', esm])
    assert.equal(stdout.trim(), Array(12).fill('function').join(','))
    const cjs = `const s = require('coatcheck/express-session'); console.log(typeof s, typeof s.Store, typeof s.MemoryStore)`
    const required = await run(node, ['-e', cjs])
    assert.equal(required.stdout.trim(), 'function function function')
  })

  it('types: SessionData merges by declaration, reserved members are read-only, Express sees req.session', async () => {
    await run(node, ['node_modules/typescript/bin/tsc', '-p', 'test/package/tsconfig.json'])
  })
})
