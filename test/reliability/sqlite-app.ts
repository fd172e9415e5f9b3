// The reliability app (./app.ts) on the SQLite file given as the first argument, in a process of its own: prints its
// URL and runs until killed (the faults test kills it with SIGKILL mid-load) or stdin closes.
import { sqliteStore } from '../../src/stores/sqlite/index.ts'
import { startApp } from './app.ts'

const store = sqliteStore({ path: process.argv[2]! })
const app = await startApp(store)
process.stdout.write(`${app.url}\n`)
process.stdin.resume()
process.stdin.on('end', async () => {
  await app.close()
  await store.close()
})
