import { type Channel, channel } from 'node:diagnostics_channel'

/** What happened to a session. */
export type SessionEventType =
  | 'created'
  | 'expired'
  | 'regenerated'
  | 'destroyed'
  | 'store-error'
  | 'login'
  | 'logout'
  | 'throttled'
  | 'csrf-rejected'
  | 'remember-issued'
  | 'remember-used'
  | 'remember-theft'
  | 'remember-expired'

/** Why `csrf()` refused a request. */
export type CsrfReason = 'cross-site' | 'origin-mismatch' | 'null-origin' | 'token-missing' | 'token-invalid'

/** One event. Session IDs never appear, only `sid`: a short, non-reversible hash of the store key. */
export interface SessionEvent {
  type: SessionEventType
  /** Short hash of the session's store key. */
  sid?: string
  /** `regenerated`: short hash of the key the session had before. */
  previousSid?: string
  /** `expired`: which deadline passed. `csrf-rejected`: why the request was refused. */
  reason?: 'idle' | 'absolute' | CsrfReason
  /** `csrf-rejected`: the request went through anyway (`reportOnly`). */
  reportOnly?: boolean
  /** `remember-*`: short hash of the remember-me token's selector. */
  tokenId?: string
  /** `store-error`: the failure. */
  error?: unknown
  /** `throttled`: which limit refused the attempt. */
  limit?: 'account' | 'ip'
}

/** Receives every event of one middleware instance. Exceptions it throws are reported as warnings, not rethrown. */
export type OnEvent = (event: SessionEvent) => void

/** Names of the `node:diagnostics_channel` channels coatcheck publishes on, one per event type. */
export const channelNames: Readonly<Record<SessionEventType, string>> = Object.freeze({
  created: 'coatcheck:created',
  expired: 'coatcheck:expired',
  regenerated: 'coatcheck:regenerated',
  destroyed: 'coatcheck:destroyed',
  'store-error': 'coatcheck:store-error',
  login: 'coatcheck:login',
  logout: 'coatcheck:logout',
  throttled: 'coatcheck:throttled',
  'csrf-rejected': 'coatcheck:csrf-rejected',
  'remember-issued': 'coatcheck:remember-issued',
  'remember-used': 'coatcheck:remember-used',
  'remember-theft': 'coatcheck:remember-theft',
  'remember-expired': 'coatcheck:remember-expired',
})

const channels = Object.fromEntries(
  Object.entries(channelNames).map(([type, name]) => [type, channel(name)]),
) as Record<SessionEventType, Channel>

/** One function that publishes an event to its channel and to `onEvent`. */
export function eventEmitter(onEvent: OnEvent | undefined): (event: SessionEvent) => void {
  return (event) => {
    const ch = channels[event.type]
    if (ch.hasSubscribers) ch.publish(event)
    if (!onEvent) {
      if (event.type === 'store-error' && !ch.hasSubscribers) warnStoreError(event.error)
      return
    }
    try {
      onEvent(event)
    } catch (error) {
      process.emitWarning(`coatcheck: onEvent threw: ${String(error)}`, 'CoatcheckWarning')
    }
  }
}

let warnedStoreError = false

// Without `onEvent` (or a channel subscriber) a store failure would only be a bare 503: say once why.
function warnStoreError(error: unknown): void {
  if (warnedStoreError) return
  warnedStoreError = true
  const cause = (error as { cause?: unknown })?.cause ?? error
  process.emitWarning(
    `coatcheck: the session store failed, so requests answer 503 (${String((cause as Error)?.message ?? cause)}); ` +
      'pass `onEvent` to session() to see every store-error',
    { type: 'CoatcheckWarning', code: 'COATCHECK_STORE_ERROR' },
  )
}
