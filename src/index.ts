// First: fails at once, naming the Node version needed, on a Node without crypto.argon2.
import './core/node-version.ts'

export {
  type DeviceSession,
  listSessions,
  revokeAllSessions,
  revokeOtherSessions,
  revokeSession,
} from './auth/devices.ts'
export { type RequireAuthOptions, type RequireFreshOptions, requireAuth, requireFresh } from './auth/guards.ts'
export { type SessionInfo, sessionInfo } from './auth/info.ts'
export { type LogInOptions, type LogOutOptions, logIn, logOut } from './auth/login.ts'
export { hashPassword, type Verification, verifyPassword } from './auth/passwords.ts'
export { type RememberMeOptions, rememberMe } from './auth/remember.ts'
export { type Limit, type LoginThrottleOptions, loginThrottle } from './auth/throttle.ts'
export type { TrustProxy } from './core/request.ts'
export { type CsrfOptions, csrf } from './csrf/index.ts'
export { CoatcheckError, type CoatcheckErrorCode } from './errors.ts'
export { channelNames, type OnEvent, type SessionEvent, type SessionEventType } from './events.ts'
export { commitSession, type Middleware, session } from './session/middleware.ts'
export type { CookieOptions, SessionOptions } from './session/options.ts'
export type { Callback, RegenerateOptions, Session, SessionData, SessionMembers } from './session/types.ts'
export { type MemoryStoreOptions, memoryStore } from './stores/memory/index.ts'
export type * from './stores/types.ts'
