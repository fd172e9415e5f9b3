// Stores typed against @types/express-session's `Store` (connect-redis is) plug into the drop-in face as they did into
// express-session. Compiled by test/package.test.ts against the built package.

import session from 'coatcheck/express-session' // was: from 'express-session'
import { RedisStore } from 'connect-redis'
import express from 'express'
import { createClient } from 'redis'

const app = express()
app.use(session({ secret: 'keyboard cat', store: new RedisStore({ client: createClient(), prefix: 'myapp:' }) }))
