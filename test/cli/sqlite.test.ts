import assert from 'node:assert/strict'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { after, describe, it } from 'node:test'
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import { coatcheck } from './run.ts'
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

describe('coatcheck CLI on a SQLite file it did not make', () => {
  const tables = (path: string) => {
    const db = new DatabaseSync(path, { readOnly: true })
    try {
      return db
        .prepare("SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name")
        .all()
        .map((row) => String(row.name))
    } finally {
      db.close()
    }
  }

  it('read commands on an app database without the tables exit 5 and create nothing (only migrate creates)', async () => {
    const path = join(dir, `app-${n++}.db`)
    const db = new DatabaseSync(path)
    db.exec('CREATE TABLE users (id INTEGER PRIMARY KEY)')
    db.close()
    for (const command of [
      ['stats'],
      ['sessions', 'list'],
      ['sessions', 'revoke', '--user', 'ada', '--all'],
      ['prune'],
    ]) {
      const { code, stderr } = await coatcheck([...command, '--store', `sqlite:${path}`])
      assert.equal(code, 5, `${command.join(' ')}: ${stderr}`)
      assert.match(stderr, /lacks table coatcheck_sessions, table coatcheck_tokens, table coatcheck_counters/)
      assert.match(stderr, /run "coatcheck migrate --store <url>"/)
    }
    assert.deepEqual(tables(path), ['users'], 'nothing was created')
    // A mistyped prefix on a migrated file is not an empty store either.
    assert.equal((await coatcheck(['migrate', '--store', `sqlite:${path}`])).code, 0)
    const typo = await coatcheck(['stats', '--store', `sqlite:${path}`, '--table-prefix', 'typo_'])
    assert.equal(typo.code, 5, typo.stderr)
    assert.ok(!tables(path).some((name) => name.startsWith('typo_')))
    assert.equal((await coatcheck(['stats', '--store', `sqlite:${path}`])).code, 0)
  })

  it('a file of an older version (an index missing) is not migrated either; migrate adds it', async () => {
    const path = join(dir, `old-${n++}.db`)
    assert.equal((await coatcheck(['migrate', '--store', `sqlite:${path}`])).code, 0)
    const db = new DatabaseSync(path)
    db.exec('DROP INDEX coatcheck_tokens_expires_at')
    db.close()
    const before = await coatcheck(['stats', '--store', `sqlite:${path}`])
    assert.equal(before.code, 5, before.stderr)
    assert.match(before.stderr, /lacks index coatcheck_tokens_expires_at;/)
    assert.equal((await coatcheck(['migrate', '--store', `sqlite:${path}`])).code, 0)
    assert.equal((await coatcheck(['stats', '--store', `sqlite:${path}`])).code, 0)
  })

  it('waits for a lock another connection holds briefly, as the store does, instead of failing', async () => {
    const path = join(dir, `locked-${n++}.db`)
    assert.equal((await coatcheck(['migrate', '--store', `sqlite:${path}`])).code, 0)
    const db = new DatabaseSync(path)
    db.exec('PRAGMA journal_mode = DELETE') // a rollback journal: an exclusive lock keeps readers out
    db.exec('BEGIN EXCLUSIVE')
    const release = setTimeout(() => db.exec('COMMIT'), 800) // the CLI starts in 0.2–0.5 s and opens while it is held
    try {
      const { code, stderr } = await coatcheck(['stats', '--store', `sqlite:${path}`])
      assert.equal(code, 0, stderr)
    } finally {
      clearTimeout(release)
      if (db.isTransaction) db.exec('COMMIT')
      db.close()
    }
  })

  it('a file that is not a SQLite database is unreachable (exit 4), named', async () => {
    const path = join(dir, `notes-${n++}.txt`)
    writeFileSync(path, 'not a database, just some text that is long enough to have a header\n'.repeat(20))
    const { code, stderr } = await coatcheck(['stats', '--store', `sqlite:${path}`])
    assert.equal(code, 4, stderr)
    assert.match(stderr, /cannot read the SQLite database .*notes-\d+\.txt/)
  })
})
