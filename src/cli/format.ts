/** How the CLI writes: lines with backpressure, table cells, times, and the one view of a session it shows. */
import { once } from 'node:events'
import { deviceFields } from '../auth/devices.ts'
import { shortId } from '../core/token.ts'
import type { SessionEntry } from '../stores/types.ts'

/** The reader went away (`coatcheck sessions list | head`): not a failure, the CLI just stops. */
export class OutputClosed extends Error {}

/** A stream written a line at a time that waits while the reader is behind, so a long listing holds one page. */
export class Output {
  readonly #stream: NodeJS.WritableStream
  #closed = false

  constructor(stream: NodeJS.WritableStream) {
    this.#stream = stream
    stream.on('error', () => {
      this.#closed = true
    })
  }

  async line(text: string): Promise<void> {
    if (this.#closed) throw new OutputClosed()
    if (this.#stream.write(`${text}\n`)) return
    try {
      await once(this.#stream, 'drain')
    } catch {
      throw new OutputClosed()
    }
  }

  /** One JSON value on one line. */
  json(value: unknown): Promise<void> {
    return this.line(JSON.stringify(value))
  }
}

/** A session as the CLI shows it: a short handle, never the token nor its store key, and never the data. */
export interface SessionView {
  /** `shortId` of the store key, as the devices page shows it; what `sessions revoke --handle` takes. */
  handle: string
  userId: string | null
  /** Such as "Chrome on Linux". */
  device: string
  userAgent: string | null
  ip: string | null
  createdAt: string
  lastSeenAt: string
  expiresAt: string
  absoluteExpiresAt: string
  /** The session was opened or restored by a remember-me token. */
  remembered: boolean
}

export function sessionView({ key, record }: SessionEntry): SessionView {
  const { userAgent, label, ip, remembered } = deviceFields(record.meta)
  return {
    handle: shortId(key),
    userId: record.userId,
    device: label,
    userAgent,
    ip,
    createdAt: iso(record.createdAt),
    lastSeenAt: iso(record.lastSeenAt),
    expiresAt: iso(record.expiresAt),
    absoluteExpiresAt: iso(record.absoluteExpiresAt),
    remembered,
  }
}

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : String(ms))

/** The columns of the `sessions list` table and their widths (a longer value pushes the rest of its row). */
const COLUMNS: [string, number][] = [
  ['HANDLE', 12],
  ['USER', 16],
  ['DEVICE', 22],
  ['IP', 15],
  ['CREATED', 17],
  ['LAST SEEN', 17],
  ['EXPIRES', 17],
]

export const tableHeader = () => cells(COLUMNS.map(([name]) => name))

export function tableRow(view: SessionView): string {
  const { handle, userId, device, ip, createdAt, lastSeenAt, expiresAt } = view
  return cells([handle, userId ?? '-', device, ip ?? '-', ...[createdAt, lastSeenAt, expiresAt].map(minutes)])
}

function cells(values: string[]): string {
  const last = values.length - 1
  return values.map((value, i) => (i === last ? printable(value) : printable(value).padEnd(COLUMNS[i]![1]))).join('  ')
}

/** `2025-06-01T10:00:00.000Z` as `2025-06-01 10:00Z`: a table needs minutes, not milliseconds. */
const minutes = (isoTime: string) => isoTime.replace(/^(\d{4}-\d\d-\d\d)T(\d\d:\d\d).*Z$/, '$1 $2Z')

/** Control characters of stored values (a user ID, an IP) as `\xNN`, so they cannot drive the terminal. */
export function printable(text: string): string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: matching them is the point
  return text.replace(/[\x00-\x1f\x7f-\x9f]/g, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`)
}

/** `n` and the noun, plural unless 1. */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`
