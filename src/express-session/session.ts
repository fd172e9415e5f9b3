import type { IncomingMessage } from 'node:http'
import { call } from '../stores/legacy/adapter.ts'
import type { Cookie } from './cookie.ts'

/** A node-style callback: `(err) => void`. */
export type Callback = (error?: unknown) => void

/** What a `Session`'s methods do, provided by the drop-in middleware for its request. */
export interface SessionController {
  save(session: Session): Promise<void>
  reload(session: Session): Promise<void>
  destroy(session: Session): Promise<void>
  regenerate(session: Session): Promise<void>
}

// The drop-in middleware's controller of each request, on a symbol property of the request: a WeakMap keyed by
// requests whose controllers refer back to them burdens the garbage collector (measured in bench/ for modern mode).
const CONTROLLER = Symbol('coatcheck.dropIn')

/** The drop-in middleware's controller of each request. */
export const controllers = {
  get(req: object): SessionController | undefined {
    return (req as { [CONTROLLER]?: SessionController })[CONTROLLER]
  },
  set(req: object, controller: SessionController): void {
    ;(req as { [CONTROLLER]?: SessionController })[CONTROLLER] = controller
  },
}

type Request = IncomingMessage & { sessionID?: string; sessionStore?: object }

/**
 * `req.session` in drop-in mode: the session data as plain properties, plus `id`, `cookie` and express-session's
 * methods. `regenerate`, `destroy`, `reload` and `save` take a callback (and then return the session, for chaining);
 * without one they return a promise. The data is typed by `SessionData` (see `types.ts`).
 *
 * @example
 * ```ts
 * req.session.regenerate((err) => {
 *   if (err) return next(err)
 *   req.session.userId = user.id
 *   req.session.save((err) => (err ? next(err) : res.redirect('/')))
 * })
 * await req.session.destroy() // or with a callback, as above
 * ```
 */
export class Session {
  declare readonly id: string
  declare readonly req: Request
  declare cookie: Cookie

  constructor(req: Request, data?: Record<string, unknown> | null) {
    Object.defineProperty(this, 'req', { value: req })
    Object.defineProperty(this, 'id', { value: req.sessionID })
    if (typeof data === 'object' && data !== null) {
      // The data keys are the app's (typed by `SessionData` on `req.session`), not the class's.
      const self = this as unknown as Record<string, unknown>
      for (const key in data) if (!(key in this)) self[key] = data[key]
    }
  }

  /** Resets `cookie.maxAge` to `cookie.originalMaxAge` (the middleware does it once per request). */
  touch(): this {
    return this.resetMaxAge()
  }

  /** Resets `cookie.maxAge` to `cookie.originalMaxAge`. */
  resetMaxAge(): this {
    this.cookie.maxAge = this.cookie.originalMaxAge
    return this
  }

  /** Writes the session now instead of when the response leaves. */
  save(callback: Callback): this
  save(): Promise<void>
  save(callback?: Callback): this | Promise<void> {
    const controller = controllers.get(this.req)
    const work = controller ? controller.save(this) : call(this.req.sessionStore!, 'set', this.id, this)
    return chainable(this, work, callback)
  }

  /** Re-reads the session from the store; `req.session` becomes a new object for the same session. */
  reload(callback: Callback): this
  reload(): Promise<void>
  reload(callback?: Callback): this | Promise<void> {
    return chainable(this, this.#controller().reload(this), callback)
  }

  /** Deletes the session from the store; `req.session` is undefined afterwards. */
  destroy(callback: Callback): this
  destroy(): Promise<void>
  destroy(callback?: Callback): this | Promise<void> {
    const controller = controllers.get(this.req)
    if (controller) return chainable(this, controller.destroy(this), callback)
    delete (this.req as { session?: unknown }).session
    return chainable(this, call(this.req.sessionStore!, 'destroy', this.id), callback)
  }

  /** Deletes the session and starts a new, empty one under a new ID in `req.session`. */
  regenerate(callback: Callback): this
  regenerate(): Promise<void>
  regenerate(callback?: Callback): this | Promise<void> {
    return chainable(this, this.#controller().regenerate(this), callback)
  }

  #controller(): SessionController {
    const controller = controllers.get(this.req)
    if (!controller) throw new Error('coatcheck: this session does not belong to a request of the session middleware')
    return controller
  }
}

function chainable<S extends Session>(
  session: S,
  work: Promise<unknown>,
  callback: Callback | undefined,
): S | Promise<void> {
  if (callback) {
    work.then(
      () => callback(),
      (error: unknown) => callback(error),
    )
    return session
  }
  const done = work.then(() => {})
  // Called without a callback and not awaited, express-session ignores a failure; an unhandled rejection must not
  // take the process down for it. An awaiting caller still sees the rejection.
  done.catch(() => {})
  return done
}
