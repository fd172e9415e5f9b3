/**
 * A minimal coatcheck app: `npm start`, then open http://127.0.0.1:3000. It keeps a visit counter and a short list
 * of notes in the session. SESSION_SECRET, DATA_DIR (default `data`), PORT and HOST come from the environment.
 */
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import express from 'express'
import { session } from '../src/index.ts'
import { sqliteStore } from '../src/stores/sqlite/index.ts'

declare module '../src/session/types.ts' {
  interface SessionData {
    visits: number
    notes: string[]
  }
}

// The secret signs the cookies. Without SESSION_SECRET the demo makes one and keeps it beside the database, so that
// sessions survive a restart of the demo as they would in production.
function demoSecret(dir: string): string {
  const file = join(dir, 'session-secret')
  if (existsSync(file)) return readFileSync(file, 'utf8').trim()
  mkdirSync(dir, { recursive: true })
  const made = randomBytes(32).toString('base64url')
  writeFileSync(file, made, { mode: 0o600 })
  return made
}
const dataDir = process.env.DATA_DIR ?? 'data'
const secret = process.env.SESSION_SECRET ?? demoSecret(dataDir)

const app = express()
app.use(express.urlencoded({ extended: false }))
// SQLite, embedded: sessions survive a restart of the server (with the same SESSION_SECRET).
const store = sqliteStore({ path: join(dataDir, 'sessions.db') })
app.use(session({ secret, store }))

const escapeHtml = (text: string) => text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`)

app.get('/', (req, res) => {
  req.session.visits = (req.session.visits ?? 0) + 1
  const notes = (req.session.notes ?? []).map((n) => `<li>${escapeHtml(n)}</li>`).join('')
  res.type('html').send(`<!doctype html><meta charset="utf-8"><title>coatcheck demo</title>
<h1>coatcheck demo</h1>
<p>Visits in this session: <strong id="visits">${req.session.visits}</strong></p>
<form method="post" action="/notes"><input name="note" maxlength="200" required> <button>Add note</button></form>
<ul id="notes">${notes}</ul>
<form method="post" action="/logout"><button>End session</button></form>`)
})

app.post('/notes', (req, res) => {
  const note = String(req.body?.note ?? '').slice(0, 200)
  if (note) req.session.notes = [...(req.session.notes ?? []), note].slice(-20)
  res.redirect(303, '/')
})

app.post('/logout', async (req, res) => {
  await req.session.destroy()
  res.redirect(303, '/')
})

const port = Number(process.env.PORT ?? 3000)
const host = process.env.HOST ?? '127.0.0.1'
app.listen(port, host, () => console.log(`coatcheck demo on http://${host}:${port}`))
