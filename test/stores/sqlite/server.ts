// Serves `sessionApp` on the SQLite file given as the first argument, prints its URL and then the cause of every store
// error (one line each), and stops when stdin closes.
import { sqliteStore } from '../../../src/stores/sqlite/index.ts'
import { listen } from '../../support/http.ts'
import { sessionApp } from './app.ts'

const store = sqliteStore({ path: process.argv[2]! })
const running = await listen(
  sessionApp(store, (event) => {
    if (event.type === 'store-error') process.stdout.write(`store-error: ${causeOf(event.error)}\n`)
  }),
)
process.stdout.write(`${running.url}\n`)
process.stdin.resume()
process.stdin.on('end', async () => {
  await running.close()
  await store.close()
})

function causeOf(error: unknown): string {
  const cause = error instanceof Error ? error.cause : undefined
  return cause instanceof Error ? cause.message : String(error)
}
