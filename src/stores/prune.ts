/**
 * The one prune loop of the memory, SQLite and PostgreSQL stores (Redis expires records by itself).
 *
 * Policy: one `setInterval`, unref'd, so it never keeps the process alive; a tick is skipped while the previous run
 * is still in flight, so a slow database never piles up prunes; a failing run (a locked, read-only or unreachable
 * database) never throws nor rejects unhandled: the first failure of the loop is reported as one process warning
 * (`COATCHECK_PRUNE_ERROR`, naming the store and the cause), later ones are dropped, and the next tick retries. The
 * requests themselves report the same fault as a 503 and a `store-error` event. Returns the function that stops it.
 */
export function pruneLoop(store: string, prune: () => unknown, interval: number): () => void {
  let running = false
  let warned = false
  const failed = (error: unknown) => {
    if (warned) return
    warned = true
    const cause = error instanceof Error ? error.message : String(error)
    process.emitWarning(`coatcheck: ${store} prune failed (${cause}); it is retried on every tick`, {
      code: 'COATCHECK_PRUNE_ERROR',
    })
  }
  const timer = setInterval(() => {
    if (running) return
    running = true
    try {
      Promise.resolve(prune())
        .catch(failed)
        .finally(() => {
          running = false
        })
    } catch (error) {
      failed(error)
      running = false
    }
  }, interval)
  timer.unref()
  return () => clearInterval(timer)
}
