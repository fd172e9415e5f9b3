import { type ServerResponse, STATUS_CODES } from 'node:http'
import { CoatcheckError } from '../errors.ts'

type Held = 'writeHead' | 'write' | 'end' | 'flushHeaders'
const HELD: readonly Held[] = ['writeHead', 'write', 'end', 'flushHeaders']

/**
 * Holds the response until `commit` has finished: the first call that would send a header or a byte starts the
 * commit, and it and every later call wait, in order, until the session is stored and its Set-Cookie is set. When
 * the commit fails nothing that was held is sent: the response becomes the error's status (503 for a store
 * failure) with a generic body and no Set-Cookie. The wrappers stay in place as pass-throughs afterwards, so a
 * middleware that wrapped them later keeps working.
 */
export function holdResponse(res: ServerResponse, commit: () => Promise<string | undefined>): void {
  const original = {} as Record<Held, (...args: unknown[]) => unknown>
  let held: Array<[Held, unknown[]]> | undefined
  let released = false

  const release = async () => {
    let setCookie: string | undefined
    try {
      setCookie = await commit()
    } catch (error) {
      released = true
      held = undefined
      fail(res, error, original.end!)
      return
    }
    if (setCookie !== undefined && !res.headersSent) res.appendHeader('Set-Cookie', setCookie)
    released = true
    const calls = held!
    held = undefined
    for (const [method, args] of calls) {
      try {
        original[method].apply(res, args)
      } catch (error) {
        // Thrown synchronously this would have reached the handler; deferred, it can only be reported.
        process.emitWarning(`coatcheck: deferred res.${method}() threw: ${String(error)}`, 'CoatcheckWarning')
      }
    }
  }

  for (const method of HELD) {
    const fn = res[method] as (...args: unknown[]) => unknown
    original[method] = fn
    ;(res as unknown as Record<Held, unknown>)[method] = function (this: ServerResponse, ...args: unknown[]) {
      if (released) return fn.apply(this, args)
      if (held === undefined) {
        held = []
        void release()
      }
      held.push([method, args])
      return method === 'write' ? true : this
    }
  }
}

function fail(res: ServerResponse, error: unknown, end: (...args: unknown[]) => unknown): void {
  if (res.headersSent) {
    res.destroy()
    return
  }
  const status = error instanceof CoatcheckError && error.status !== undefined ? error.status : 503
  for (const name of res.getHeaderNames()) res.removeHeader(name)
  res.statusCode = status
  res.setHeader('Content-Type', 'text/plain; charset=utf-8')
  res.setHeader('Cache-Control', 'no-store')
  end.call(res, STATUS_CODES[status])
}
