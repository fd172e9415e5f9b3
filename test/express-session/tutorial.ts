import express from 'express'

// biome-ignore lint/suspicious/noExplicitAny: the tutorial code is untyped JavaScript, run as it is written
type Any = any

const users = new Map([['ada', { id: 'u-ada', password: 'correct horse' }]])

/**
 * The classic tutorial: express-session + connect-redis, login with `regenerate`, a `requireAuth` middleware, logout
 * with `destroy` + `clearCookie`. Written once; `session` is whatever the app's import line brings in.
 */
export function tutorialApp(session: Any, store: Any): express.Express {
  const app = express()
  app.use(express.urlencoded({ extended: false }))
  app.use(
    session({
      store,
      secret: 'keyboard cat',
      resave: false,
      saveUninitialized: false,
      cookie: { maxAge: 1000 * 60 * 60 * 24 },
    }),
  )

  function requireAuth(req: Any, res: Any, next: Any) {
    if (req.session.userId) next()
    else res.status(401).send('Please log in')
  }

  app.post('/login', (req: Any, res: Any, next: Any) => {
    const user = users.get(req.body.username)
    if (!user || user.password !== req.body.password) return res.status(401).send('Invalid credentials')
    req.session.regenerate((err: unknown) => {
      if (err) return next(err)
      req.session.userId = user.id
      req.session.save((err: unknown) => {
        if (err) return next(err)
        res.redirect('/dashboard')
      })
    })
  })

  app.get('/dashboard', requireAuth, (req: Any, res: Any) => {
    req.session.views = (req.session.views || 0) + 1
    res.send(`Welcome ${req.session.userId}, view ${req.session.views}`)
  })

  app.post('/logout', (req: Any, res: Any, next: Any) => {
    req.session.destroy((err: unknown) => {
      if (err) return next(err)
      res.clearCookie('connect.sid')
      res.redirect('/')
    })
  })

  return app
}
