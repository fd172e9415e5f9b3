import { type ServerResponse, STATUS_CODES } from 'node:http'
import { CoatcheckError } from '../errors.ts'

/** What the response waits for: the session's commit, which resolves the Set-Cookie value to send, if any. */
export interface Committer {
  commit(): Promise<string | undefined>
  /** False when a commit now would certainly write nothing and set no cookie: the response then goes out at once. */
  needsCommit?(): boolean
}

type Held = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type Method = (...args: unknown[]) => unknown

interface Hold {
  readonly committer: Committer
  readonly original: Record<Held, Method>
  held: Array<[Held, unknown[]]> | undefined
  released: boolean
}

const HOLD = Symbol('coatcheck.hold')
type HeldResponse = ServerResponse & { [HOLD]: Hold }

/**
 * Holds the response until the session is committed: the first call that would send a header or a byte starts the
 * commit, and it and every later call wait, in order, until the session is stored and its Set-Cookie is set. When
 * the commit fails nothing that was held is sent: the response becomes the error's status (503 for a store
 * failure) with a generic body and no Set-Cookie. The wrappers stay in place as pass-throughs afterwards, so a
 * middleware that wrapped them later keeps working. They are shared functions: a request allocates no closures.
 */
export function holdResponse(res: ServerResponse, committer: Committer): void {
  if ((res as HeldResponse)[HOLD]) return
  if (res.headersSent) {
    warnLate()
    return
  }
  const original = { writeHead: res.writeHead, write: res.write, end: res.end, flushHeaders: res.flushHeaders }
  ;(res as HeldResponse)[HOLD] = {
    committer,
    original: original as Record<Held, Method>,
    held: undefined,
    released: false,
  }
  Object.assign(res, WRAPPERS)
}

let warnedLate = false

// The handler changed the session after the response's headers left: the change cannot be committed before the
// first byte, so it is not stored. Said once per process, as a warning with a code apps can filter on.
function warnLate(): void {
  if (warnedLate) return
  warnedLate = true
  process.emitWarning(
    'a session was changed after the response headers were sent; such changes are not stored (change the session first)',
    { type: 'CoatcheckWarning', code: 'COATCHECK_LATE_CHANGE' },
  )
}

const WRAPPERS = {
  writeHead(this: HeldResponse, ...args: unknown[]) {
    return intercept(this, 'writeHead', args)
  },
  write(this: HeldResponse, ...args: unknown[]) {
    return intercept(this, 'write', args)
  },
  end(this: HeldResponse, ...args: unknown[]) {
    return intercept(this, 'end', args)
  },
  flushHeaders(this: HeldResponse, ...args: unknown[]) {
    return intercept(this, 'flushHeaders', args)
  },
}

function intercept(res: HeldResponse, method: Held, args: unknown[]): unknown {
  const hold = res[HOLD]
  if (hold.released) return hold.original[method].apply(res, args)
  if (hold.held === undefined) {
    if (hold.committer.needsCommit?.() === false) {
      hold.released = true
      return hold.original[method].apply(res, args)
    }
    hold.held = []
    void release(res, hold)
  }
  hold.held.push([method, args])
  return method === 'write' ? true : res
}

async function release(res: HeldResponse, hold: Hold): Promise<void> {
  let setCookie: string | undefined
  try {
    setCookie = await hold.committer.commit()
  } catch (error) {
    hold.released = true
    hold.held = undefined
    fail(res, error, hold.original.end)
    return
  }
  if (setCookie !== undefined && !res.headersSent) res.appendHeader('Set-Cookie', setCookie)
  hold.released = true
  const calls = hold.held!
  hold.held = undefined
  for (const [method, args] of calls) {
    try {
      hold.original[method].apply(res, args)
    } catch (error) {
      // Thrown synchronously this would have reached the handler; deferred, it can only be reported.
      process.emitWarning(`coatcheck: deferred res.${method}() threw: ${String(error)}`, 'CoatcheckWarning')
    }
  }
}

function fail(res: ServerResponse, error: unknown, end: Method): void {
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
