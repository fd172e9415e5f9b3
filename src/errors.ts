/** Stable error codes that callers can `switch` on. */
export type CoatcheckErrorCode =
  | 'INVALID_OPTION'
  | 'INVALID_ARGUMENT'
  | 'RESERVED_KEY'
  | 'INVALID_KEY'
  | 'INVALID_USER_ID'
  | 'SESSION_TOO_LARGE'
  | 'SESSION_TOO_DEEP'
  | 'INVALID_VALUE'
  | 'SESSION_DESTROYED'
  | 'STORE_ERROR'
  | 'STORE_TIMEOUT'
  | 'STORE_CONFLICT'
  | 'STORE_UNSUPPORTED'
  | 'PASSWORD_TOO_LONG'
  | 'NO_SESSION_MIDDLEWARE'
  | 'CSRF_REJECTED'

/** The one error class of coatcheck. `status` is the HTTP status the error maps to, where one applies. */
export class CoatcheckError extends Error {
  readonly code: CoatcheckErrorCode
  readonly status: number | undefined

  constructor(code: CoatcheckErrorCode, message: string, status?: number, options?: ErrorOptions) {
    super(message, options)
    this.name = 'CoatcheckError'
    this.code = code
    this.status = status
  }

  /** Express and connect read `statusCode` / `status` to answer an error passed to `next(err)`. */
  get statusCode(): number | undefined {
    return this.status
  }
}

/** A bad option: thrown at start-up, naming the option. */
export function invalidOption(name: string, rule: string): CoatcheckError {
  return new CoatcheckError('INVALID_OPTION', `coatcheck: option \`${name}\` ${rule}`)
}
