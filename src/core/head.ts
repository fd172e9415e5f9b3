import type { OutgoingHttpHeaders, ServerResponse } from 'node:http'

// What Node's ServerResponse checks and applies synchronously, for calls the response hold defers: a deferred call
// must fail (or take effect) when it is made, as it would without the hold.

/**
 * Validates `writeHead(status, [reason], [headers])` as Node does and merges its headers into the response
 * the way Node would (`setHeader` per key; for the raw array form, remove then append, keeping duplicates), so the
 * session's Set-Cookie appended later survives beside the app's own. Returns the arguments without the headers, for
 * Node's `writeHead` to send the status line later.
 */
export function applyHead(res: ServerResponse, args: unknown[]): unknown[] {
  const [status, reason] = args
  const code = (status as number) | 0
  if (code < 100 || code > 999)
    throw nodeError(RangeError, 'ERR_HTTP_INVALID_STATUS_CODE', `Invalid status code: ${String(status)}`)
  const headers = typeof reason === 'string' ? args[2] : (args[2] ?? reason)
  if (Array.isArray(headers)) {
    const pairs = rawPairs(headers)
    for (const [name] of pairs) res.removeHeader(name as string)
    for (const [name, value] of pairs) if (name) res.appendHeader(name as string, value as string)
  } else if (headers) {
    for (const [name, value] of Object.entries(headers as OutgoingHttpHeaders)) if (name) res.setHeader(name, value!)
  }
  return typeof reason === 'string' ? [status, reason] : [status]
}

// Raw headers come flat ([name, value, name, value]) or as pairs ([[name, value], ...]).
function rawPairs(headers: unknown[]): Array<[unknown, unknown]> {
  if (Array.isArray(headers[0])) return headers as Array<[unknown, unknown]>
  if (headers.length % 2 !== 0) throw nodeError(TypeError, 'ERR_INVALID_ARG_VALUE', "The argument 'headers' is invalid")
  const pairs: Array<[unknown, unknown]> = []
  for (let i = 0; i < headers.length; i += 2) pairs.push([headers[i], headers[i + 1]])
  return pairs
}

function nodeError(Kind: ErrorConstructor, code: string, message: string): Error {
  return Object.assign(new Kind(message), { code })
}

/** Node's error for a header change once the headers left: `verb` is set, append, remove or write. */
export function headersSentError(verb: string): Error {
  return nodeError(Error, 'ERR_HTTP_HEADERS_SENT', `Cannot ${verb} headers after they are sent to the client`)
}
