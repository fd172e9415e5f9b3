import { buildApp } from '../app.ts'
import { parseAppArgs } from '../app-shape.ts'
import { serve } from './serve.ts'

// `app.ts <bare|noop|express-session|coatcheck> <memory|redis|postgres|sqlite> <on|off> [where]`: the comparison's app
// (see `../app.ts`) in one variant, rolling on or off, on one backend.
await serve(await buildApp(parseAppArgs(process.argv.slice(2))))
