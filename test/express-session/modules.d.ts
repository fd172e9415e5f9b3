// The real express-session and connect-pg-simple, which the migration tests run against, ship no types.
declare module 'express-session' {
  // biome-ignore lint/suspicious/noExplicitAny: the tests drive the untyped original
  const session: any
  export default session
}

declare module 'connect-pg-simple' {
  // biome-ignore lint/suspicious/noExplicitAny: untyped
  const connectPgSimple: (session: any) => any
  export default connectPgSimple
}
