import type { PostgresQueryable } from './index.ts'
import { nameOf, type Statement } from './sql.ts'

/** What every statement of the store resolves to: its rows as arrays, in the order of the SELECT or RETURNING list. */
export interface Rows {
  rows: unknown[][]
  rowCount: number
}

/** Sends one statement with its values. */
export type Send = (statement: Statement, values: unknown[]) => Promise<Rows>

/**
 * The slice of node-postgres' connection a submittable query drives: the extended-protocol messages, and the two
 * maps in which pg records which named statements a connection has parsed (or has been sent to parse).
 */
interface WireConnection {
  parsedStatements: Record<string, string | undefined>
  submittedNamedStatements?: Record<string, string | undefined>
  stream: { cork?(): void; uncork?(): void }
  parse(query: { text: string; name: string; types: unknown[] }): void
  bind(config: { portal: string; statement: string; values: (string | null)[]; binary: boolean }): void
  execute(config: { portal: string; rows: number }): void
  sync(): void
  sendCopyFail(message: string): void
}

/**
 * One named prepared statement, run through pg's "submittable" interface (the one pg-cursor and pg-query-stream
 * use): Parse the first time on a connection, then Bind, Execute and Sync. It skips what pg's own `Query` adds to
 * every call, which the store never needs: the Describe round of messages, the field descriptions, a parser per
 * column, and the `Result` with its row objects. Every value comes back as PostgreSQL's text (or null); the store
 * decodes its own columns, so the app's type parsers cannot change what it reads.
 *
 * pg calls the `handle*` methods as the server's messages arrive and `callback` (set by the pool, which releases the
 * client in it) exactly once: with the error, or with this object at ReadyForQuery.
 */
class TextQuery {
  readonly name: string
  readonly text: string
  readonly values: (string | null)[]
  rows: (string | null)[][] = []
  rowCount = 0
  #callback: ((error: Error | null, result?: Rows) => void) | undefined = undefined
  #done = false
  #sent = false

  constructor(statement: Statement, values: (string | null)[]) {
    this.name = statement.name
    this.text = statement.text
    this.values = values
  }

  /**
   * What pg calls back, set by pg (or the pool) when it takes the query. Once an attempt is over it reads as unset,
   * so a wrapper that sends this same object again gets its own callback called (with an error: see `submit`)
   * rather than a promise that never settles and a pool client that is never released.
   */
  get callback(): ((error: Error | null, result?: Rows) => void) | undefined {
    return this.#done ? undefined : this.#callback
  }

  set callback(callback: ((error: Error | null, result?: Rows) => void) | undefined) {
    if (this.#done && callback !== undefined) {
      this.#done = false
      this.rows = []
      this.rowCount = 0
    }
    this.#callback = callback
  }

  submit(connection: WireConnection): Error | null {
    // Sent once only: after a timeout pg leaves the first attempt running on its connection, whose late rows would
    // land on this object. The store makes a new one per call; a wrapper's retry of the same object fails instead.
    if (this.#sent) return new Error('coatcheck: a PostgreSQL query object was sent twice; send a new one per attempt')
    this.#sent = true
    // The record of what this connection has parsed is pg's (since pg 8): a connection without it (another pg, or a
    // pg that changed it) would be sent Parse again on every call, which fails. Refused, so the probe picks pg's path.
    if (typeof connection.parsedStatements !== 'object' || connection.parsedStatements === null) {
      return new Error('coatcheck: lean queries are not supported by this connection (no parsedStatements)')
    }
    const { stream } = connection
    stream.cork?.()
    try {
      const submitted = connection.submittedNamedStatements
      if (connection.parsedStatements[this.name] === undefined && submitted?.[this.name] === undefined) {
        connection.parse({ text: this.text, name: this.name, types: [] })
        if (submitted) submitted[this.name] = this.text
      }
      connection.bind({ portal: '', statement: this.name, values: this.values, binary: false })
      connection.execute({ portal: '', rows: 0 })
      connection.sync()
    } finally {
      stream.uncork?.()
    }
    return null
  }

  handleDataRow(message: { fields: (string | null)[] }): void {
    if (!this.#done) this.rows.push(message.fields)
  }

  handleCommandComplete(message: { text: string }): void {
    // "SELECT 1", "UPDATE 0", "INSERT 0 1": the count is the last word.
    const { text } = message
    this.rowCount = Number(text.slice(text.lastIndexOf(' ') + 1)) || 0
  }

  handleReadyForQuery(): void {
    this.#finish(null)
  }

  handleError(error: Error): void {
    this.#finish(error)
  }

  // Messages a statement of the store never causes (no Describe, no row limit, no COPY), answered as pg's Query does.
  handleRowDescription(): void {}
  handleEmptyQuery(): void {}
  handlePortalSuspended(): void {}
  handleCopyInResponse(connection: WireConnection): void {
    connection.sendCopyFail('coatcheck: COPY is not supported')
  }
  handleCopyData(): void {}

  #finish(error: Error | null): void {
    if (this.#done) return
    const callback = this.#callback
    this.#done = true
    if (error) callback?.(error)
    else callback?.(null, this)
  }
}

/** A value as PostgreSQL text: the store sends strings, integers, null and arrays of strings (`text[]`). */
function toText(value: unknown): string | null {
  if (value === null || value === undefined) return null
  if (typeof value === 'string') return value
  if (Array.isArray(value)) return `{${value.map((item) => `"${String(item).replace(/["\\]/g, '\\$&')}"`).join(',')}}`
  return String(value)
}

const PROBE_TEXT = 'SELECT $1::text'
const probe: Statement = Object.freeze({
  name: nameOf('probe', PROBE_TEXT),
  text: PROBE_TEXT,
})

/**
 * How the store sends its statements to this pool. A pg Pool (or a pool built on pg's) that takes a submittable and
 * hands its result back through the promise gets {@link TextQuery}; the store finds out by sending a probe and
 * checking what comes back. A clear refusal (a lone Client, which answers a submittable without a promise; a pool in
 * pipeline mode, which refuses one; a wrong answer) keeps pg's ordinary named statements, with rows as arrays, for
 * good; a probe that fails or waits (a pool busy or unreachable for a moment) keeps them for now, and the probe is
 * sent again on a later call, up to `PROBES` times. With `preparedStatements: false`, `query(text, values)` alone.
 */
export async function sender(pool: PostgresQueryable, preparedStatements: boolean): Promise<Send> {
  const asArrays = (result: { rows: unknown[]; rowCount: number | null }): Rows => ({
    rows: result.rows.map((row) => (Array.isArray(row) ? row : Object.values(row as object))),
    rowCount: result.rowCount ?? 0,
  })
  if (!preparedStatements) return async ({ text }, values) => asArrays(await pool.query(text, values))
  const submit = (statement: Statement, values: unknown[]) =>
    pool.query(new TextQuery(statement, values.map(toText)) as never) as unknown as Promise<Rows>
  const ordinary: Send = async ({ name, text }, values) =>
    asArrays(await pool.query({ name, text, values, rowMode: 'array' } as never))

  let send = ordinary
  let probes = 0
  let nextProbe = 0
  const decide = async () => {
    probes += 1
    nextProbe = Number.POSITIVE_INFINITY
    const verdict = await probeWith(submit)
    if (verdict === 'takes') send = submit
    else if (verdict === 'unsure' && probes < PROBES) nextProbe = Date.now() + REPROBE_MS
  }
  await decide()
  return (statement, values) => {
    if (send === ordinary && Date.now() >= nextProbe) void decide()
    return send(statement, values)
  }
}

/** The probe waits this long at most: a pool that never answers it gets the ordinary path, not a hung start-up. */
const PROBE_MS = 5_000
/** After a probe that failed or waited, the next is sent with a call at least this much later... */
const REPROBE_MS = 1_000
/** ...and a pool that never answers one clearly is probed this many times in all. */
const PROBES = 20

async function probeWith(submit: (statement: Statement, values: unknown[]) => unknown) {
  let timer: NodeJS.Timeout | undefined
  try {
    const answer = submit(probe, ['coatcheck'])
    if (typeof (answer as PromiseLike<unknown> | undefined)?.then !== 'function') return 'refuses'
    const late = new Promise<'late'>((resolve) => {
      timer = setTimeout(resolve, PROBE_MS, 'late')
    })
    const result = (await Promise.race([answer, late])) as Rows | 'late' | undefined
    if (result === 'late') return 'unsure'
    const right = result?.rowCount === 1 && result.rows.length === 1 && result.rows[0]?.[0] === 'coatcheck'
    return right ? 'takes' : 'refuses'
  } catch (error) {
    // pg refuses custom query objects in pipeline mode, and says so; anything else may pass.
    return /not supported/i.test(String((error as Error | undefined)?.message)) ? 'refuses' : 'unsure'
  } finally {
    clearTimeout(timer)
  }
}
