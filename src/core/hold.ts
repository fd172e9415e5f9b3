import { type ServerResponse, STATUS_CODES } from 'node:http'
import { CoatcheckError } from '../errors.ts'
import { applyHead, headersSentError } from './head.ts'

/** What the response waits for: the session's commit, which resolves the Set-Cookie values to send, if any. */
export interface Committer {
  commit(): Promise<string | readonly string[] | undefined>
  /** False when a commit now would certainly write nothing and set no cookie: the response then goes out at once. */
  needsCommit?(): boolean
}

type Held = 'writeHead' | 'write' | 'end' | 'flushHeaders'
type HeaderMethod = 'setHeader' | 'appendHeader' | 'removeHeader'
type Method = (...args: unknown[]) => unknown

interface Hold {
  readonly committer: Committer
  readonly original: Record<Held | HeaderMethod, Method>
  /** The `headersSent` getter the response had: Node's, or a framework's own. */
  readonly headersSent: (this: ServerResponse) => boolean
  held: Array<[Held, unknown[]]> | undefined
  released: boolean
  /** A held call would have sent the headers by now, so header changes are refused as Node refuses them. */
  sent: boolean
  /** A held write answered false: the writer waits for a 'drain' once the held data reaches the socket. */
  drain: boolean
  /** The status line as it was when a held call sent the headers implicitly; Node fixes it at that moment. */
  status: [code: number, message: string | undefined] | undefined
}

const HOLD = Symbol('coatcheck.hold')
type HeldResponse = ServerResponse & { [HOLD]: Hold }

/**
 * Holds the response until the session is committed: the first call that would send a header or a byte starts the
 * commit, and it and every later call wait, in order, until the session is stored and its Set-Cookie is set. When
 * the commit fails nothing that was held is sent: the response becomes the error's status (503 for a store
 * failure) with a generic body and no Set-Cookie. The wrappers stay in place as pass-throughs afterwards, so a
 * middleware that wrapped them later keeps working. They are shared functions: a request allocates no closures.
 *
 * While held the response behaves as Node's would once the call was made: `headersSent` is true, header changes
 * throw `ERR_HTTP_HEADERS_SENT`, `writeHead`'s headers are applied at once, and `write()` answers false (the data
 * waits in memory), with a `'drain'` when the hold is released. Whether headers really left is read from Node's own
 * state, never from `headersSent`, which some frameworks report early.
 */
export function holdResponse(res: ServerResponse, committer: Committer): void {
  if ((res as HeldResponse)[HOLD]) return
  if (headersWritten(res)) {
    warnLate()
    return
  }
  const original = {
    writeHead: res.writeHead,
    write: res.write,
    end: res.end,
    flushHeaders: res.flushHeaders,
    setHeader: res.setHeader,
    appendHeader: res.appendHeader,
    removeHeader: res.removeHeader,
  }
  ;(res as HeldResponse)[HOLD] = {
    committer,
    original: original as Record<Held | HeaderMethod, Method>,
    headersSent: headersSentGetter(res),
    held: undefined,
    released: false,
    sent: false,
    drain: false,
    status: undefined,
  }
  Object.assign(res, WRAPPERS)
  Object.defineProperty(res, 'headersSent', HEADERS_SENT)
}

/** Node's own record of the headers having been written (`headersSent` is this, unless a framework redefined it). */
function headersWritten(res: ServerResponse): boolean {
  const header = (res as { _header?: unknown })._header
  return header === undefined ? res.headersSent : Boolean(header)
}

function headersSentGetter(res: ServerResponse): (this: ServerResponse) => boolean {
  for (let o: object | null = res; o !== null; o = Object.getPrototypeOf(o)) {
    const descriptor = Object.getOwnPropertyDescriptor(o, 'headersSent')
    if (descriptor?.get) return descriptor.get
    if (descriptor) return () => Boolean(descriptor.value)
  }
  return () => false
}

const HEADERS_SENT: PropertyDescriptor = {
  configurable: true,
  get(this: HeldResponse) {
    const hold = this[HOLD]
    return (!hold.released && hold.sent) || hold.headersSent.call(this)
  },
  // Whoever assigns it takes it over, as they could on a plain response.
  set(this: HeldResponse, value: unknown) {
    Object.defineProperty(this, 'headersSent', { value, writable: true, configurable: true, enumerable: true })
  },
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
  setHeader(this: HeldResponse, ...args: unknown[]) {
    return header(this, 'setHeader', 'set', args)
  },
  appendHeader(this: HeldResponse, ...args: unknown[]) {
    return header(this, 'appendHeader', 'append', args)
  },
  removeHeader(this: HeldResponse, ...args: unknown[]) {
    return header(this, 'removeHeader', 'remove', args)
  },
}

function header(res: HeldResponse, method: HeaderMethod, verb: string, args: unknown[]): unknown {
  const hold = res[HOLD]
  if (hold.sent && !hold.released) throw headersSentError(verb)
  return hold.original[method].apply(res, args)
}

function intercept(res: HeldResponse, method: Held, args: unknown[]): unknown {
  const hold = res[HOLD]
  if (hold.released) return hold.original[method].apply(res, args)
  if (hold.held === undefined && hold.committer.needsCommit?.() === false) {
    hold.released = true
    return hold.original[method].apply(res, args)
  }
  // What Node checks and applies synchronously is checked and applied now; only the sending waits.
  if (method === 'writeHead' && hold.sent) throw headersSentError('write')
  const call = method === 'writeHead' ? applyHead(res, args) : args
  if (hold.held === undefined) {
    hold.held = []
    void release(res, hold)
  }
  if (!hold.sent && method !== 'writeHead') hold.status = [res.statusCode, res.statusMessage]
  hold.sent = true
  hold.held!.push([method, call])
  if (method !== 'write') return res
  hold.drain = true
  return false
}

async function release(res: HeldResponse, hold: Hold): Promise<void> {
  let setCookie: string | readonly string[] | undefined
  try {
    setCookie = await hold.committer.commit()
  } catch (error) {
    hold.released = true
    hold.held = undefined
    fail(res, error, hold.original.end)
    return
  }
  hold.released = true
  if (setCookie !== undefined && !headersWritten(res)) res.appendHeader('Set-Cookie', setCookie as string | string[])
  const calls = hold.held!
  hold.held = undefined
  if (hold.status) [res.statusCode, res.statusMessage] = hold.status as [number, string]
  let full = false
  for (const [method, args] of calls) {
    try {
      const result = hold.original[method].apply(res, args)
      if (method === 'write' && result === false) full = true
    } catch (error) {
      // Thrown synchronously this would have reached the handler; deferred, it can only be reported.
      process.emitWarning(`coatcheck: deferred res.${method}() threw: ${String(error)}`, 'CoatcheckWarning')
    }
  }
  // A write that Node itself found full gets Node's own 'drain' when the socket empties.
  if (hold.drain && !full && !res.writableEnded && !res.destroyed) res.emit('drain')
}

function fail(res: ServerResponse, error: unknown, end: Method): void {
  if (headersWritten(res)) {
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
