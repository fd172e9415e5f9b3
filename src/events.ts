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

/** One event. Session IDs never appear, only `sid`: a short, non-reversible hash of the store key. */
export interface SessionEvent {
  type: SessionEventType
  /** Short hash of the session's store key. */
  sid?: string
  /** `regenerated`: short hash of the key the session had before. */
  previousSid?: string
  /** `expired`: which deadline passed. */
  reason?: 'idle' | 'absolute'
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
})

const channels = Object.fromEntries(
  Object.entries(channelNames).map(([type, name]) => [type, channel(name)]),
) as Record<SessionEventType, Channel>

/** One function that publishes an event to its channel and to `onEvent`. */
export function eventEmitter(onEvent: OnEvent | undefined): (event: SessionEvent) => void {
  return (event) => {
    const ch = channels[event.type]
    if (ch.hasSubscribers) ch.publish(event)
    if (!onEvent) return
    try {
      onEvent(event)
    } catch (error) {
      process.emitWarning(`coatcheck: onEvent threw: ${String(error)}`, 'CoatcheckWarning')
    }
  }
}
