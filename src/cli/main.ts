#!/usr/bin/env node
/** The `coatcheck` bin. The Node check comes before any import that an older Node could not load. */
const [major = 0, minor = 0] = process.versions.node.split('.').map(Number)
if (major < 24 || (major === 24 && minor < 7)) {
  process.stderr.write(`coatcheck: requires Node.js ≥ 24.7; this is Node.js ${process.versions.node}\n`)
  process.exitCode = 1
} else {
  const { run } = await import('./run.ts')
  process.exitCode = await run(process.argv.slice(2))
}
