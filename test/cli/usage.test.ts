/** The command line itself: help, usage errors, bad URLs, unreachable stores, exit codes; no store needed. */
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { describe, it } from 'node:test'
import { freePort } from '../support/redis.ts'
import { coatcheck } from './run.ts'

const COMMANDS = ['sessions list', 'sessions revoke', 'prune', 'stats', 'migrate', 'secret']
const SQLITE = `sqlite:${join(tmpdir(), 'coatcheck-cli-never-created', 'app.db')}`

describe('coatcheck help', () => {
  it('--help lists every command, the store URLs and the exit codes', async () => {
    const { code, stdout } = await coatcheck(['--help'])
    assert.equal(code, 0)
    for (const name of COMMANDS) assert.match(stdout, new RegExp(`^ {2}${name} +\\S`, 'm'))
    assert.match(stdout, /sqlite:data\/app\.db/)
    assert.match(stdout, /STORE_URL/)
    for (const exit of [0, 1, 2, 3, 4, 5]) assert.match(stdout, new RegExp(`^ {2}${exit} {2}\\w`, 'm'))
  })

  it('no command at all prints the help on stderr and exits 2', async () => {
    const { code, stdout, stderr } = await coatcheck([])
    assert.equal(code, 2)
    assert.equal(stdout, '')
    assert.match(stderr, /^coatcheck: inspect and manage/)
  })

  it('every command has --help, -h and "coatcheck help <command>", with its options and the exit codes', async () => {
    const runs = COMMANDS.map(async (name) => {
      const words = name.split(' ')
      const [help, short, word] = await Promise.all([
        coatcheck([...words, '--help']),
        coatcheck([...words, '-h']),
        coatcheck(['help', ...words]),
      ])
      assert.equal(help.code, 0, name)
      assert.match(help.stdout, new RegExp(`^coatcheck ${name}: `))
      assert.match(help.stdout, new RegExp(`^Usage: coatcheck ${name}`, 'm'))
      assert.match(help.stdout, /^ {2}-h, --help +Show this help$/m)
      assert.match(help.stdout, /^Exit codes:$/m)
      if (name !== 'secret') assert.match(help.stdout, /^ {2}--store URL +/m)
      assert.equal(short.stdout, help.stdout)
      assert.equal(word.stdout, help.stdout)
    })
    await Promise.all(runs)
    const group = await coatcheck(['sessions', '--help'])
    assert.equal(group.code, 0)
    assert.match(group.stdout, /^ {2}sessions list +/m)
    assert.doesNotMatch(group.stdout, /^ {2}prune/m)
  })

  it('the listing help says how it streams, and that Redis is read by SCAN', async () => {
    const { stdout } = await coatcheck(['sessions', 'list', '--help'])
    assert.match(stdout, /page at a time/)
    assert.match(stdout, /SCAN/)
  })

  it('--version prints the package version', async () => {
    const { version } = JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8'))
    assert.equal((await coatcheck(['--version'])).stdout, `coatcheck ${version}\n`)
  })
})

describe('coatcheck usage errors exit 2, naming the fix', () => {
  const cases: [string[], RegExp][] = [
    [['sesions'], /unknown command "sesions" \(did you mean "sessions"\?\)/],
    [['sessions'], /"sessions" needs a command: list or revoke/],
    [['sessions', 'lst'], /unknown command "sessions lst" \(did you mean "sessions list"\?\)/],
    [['sessions', 'list', '--usr', 'x'], /unknown option --usr \(did you mean --user\?\)/],
    [['sessions', 'list', '--store'], /option --store needs a value/],
    [['sessions', 'list', '--json=yes', '--store', SQLITE], /option --json takes no value/],
    [['stats', 'extra', '--store', SQLITE], /unexpected argument "extra"/],
    [['stats'], /--store URL is required \(or set STORE_URL\)/],
    [['sessions', 'revoke', '--all', '--store', SQLITE], /--user ID is required/],
    [['sessions', 'revoke', '--user', 'ada', '--store', SQLITE], /say which sessions: --handle H .* or --all/],
    [['sessions', 'revoke', '--user', 'ada', '--all', '--handle', 'h', '--store', SQLITE], /exclude each other/],
    [['sessions', 'list', '--user', '', '--store', SQLITE], /--user: the user ID is empty/],
    [['sessions', 'list', '--page-size', '0', '--store', SQLITE], /--page-size must be an integer from 1 to 10000/],
    [['stats', '--table-prefix', 'Bad-Prefix', '--store', SQLITE], /--table-prefix must match/],
    [['stats', '--prefix', '', '--store', 'redis://127.0.0.1:1'], /--prefix must not be empty/],
  ]
  for (const [args, message] of cases) {
    it(`coatcheck ${args.join(' ')}`, async () => {
      const { code, stdout, stderr } = await coatcheck(args)
      assert.equal(code, 2, stderr)
      assert.equal(stdout, '')
      const [first, second] = stderr.trimEnd().split('\n')
      assert.match(first!, /^coatcheck: /)
      assert.match(first!, message)
      assert.match(second!, /^Run "coatcheck (\w+ )*--help" for usage\.$/)
    })
  }
})

describe('coatcheck store URLs', () => {
  it('a URL that names no store, or is malformed, exits 3', async () => {
    const urls = [
      'mysql://localhost/db',
      'data/app.db',
      'sqlite:',
      'redis://[::1',
      'redis+cluster://',
      'postgres://a b',
    ]
    for (const url of urls) {
      const { code, stderr } = await coatcheck(['stats', '--store', url])
      assert.equal(code, 3, `${url}: ${stderr}`)
      assert.match(stderr, /^coatcheck: store URL /)
    }
  })

  it('a password in a URL never reaches the terminal', async () => {
    const { stderr } = await coatcheck(['stats', '--store', 'postgres://admin:hunter2@[bad/db'])
    assert.ok(!stderr.includes('hunter2'), stderr)
    const port = await freePort()
    const down = await coatcheck(['stats', '--store', `redis://admin:hunter2@127.0.0.1:${port}`])
    assert.equal(down.code, 4)
    assert.ok(!down.stderr.includes('hunter2'), down.stderr)
  })

  it('a store that is not there exits 4: refused connections, a missing SQLite file', async () => {
    const port = await freePort()
    for (const url of [`redis://127.0.0.1:${port}`, `postgres://postgres@127.0.0.1:${port}/postgres`]) {
      const { code, stderr } = await coatcheck(['sessions', 'list', '--store', url])
      assert.equal(code, 4, stderr)
      assert.match(stderr, new RegExp(`^coatcheck: cannot reach .*127\\.0\\.0\\.1:${port}.*: .*ECONNREFUSED`))
    }
    const cluster = await coatcheck(['stats', '--store', `redis+cluster://127.0.0.1:${port},127.0.0.1:${port}`])
    assert.equal(cluster.code, 4, cluster.stderr)
    assert.match(cluster.stderr, /^coatcheck: cannot reach redis\+cluster:/)
    const missing = await coatcheck(['stats', '--store', SQLITE])
    assert.equal(missing.code, 4)
    assert.match(missing.stderr, /^coatcheck: no SQLite database at \/.*app\.db \("coatcheck migrate" creates one\)/)
  })
})

describe('coatcheck secret', () => {
  it('prints a new 32-byte base64url secret on one line, a different one each time', async () => {
    const [a, b] = await Promise.all([coatcheck(['secret']), coatcheck(['secret'])])
    assert.equal(a.code, 0)
    assert.match(a.stdout, /^[A-Za-z0-9_-]{43}\n$/)
    assert.equal(Buffer.from(a.stdout.trim(), 'base64url').length, 32)
    assert.notEqual(a.stdout, b.stdout)
  })
})
