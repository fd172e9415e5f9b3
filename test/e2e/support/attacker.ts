/**
 * A cross-site attacker: pages served from http://localhost:<port> (another site than the app on 127.0.0.1) that
 * forge requests to the app with whatever cookies the browser attaches: an auto-submitted POST form, and
 * credentialed fetches that try to read the API, sign out, and delete a session.
 */
import { once } from 'node:events'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface Attacker {
  /** http://localhost:<port> */
  url: string
  close(): Promise<void>
}

function formPage(action: string): string {
  return `<!doctype html><meta charset="utf-8"><title>You won!</title>
<form id="forged" method="post" action="${action}"><input type="hidden" name="_csrf" value="forged-token"></form>
<script>document.getElementById('forged').submit()</script>`
}

function fetchPage(app: string, handle: string): string {
  return `<!doctype html><meta charset="utf-8"><title>Loading…</title><pre id="result">running</pre>
<script>
const app = ${JSON.stringify(app)}
const attempt = async (run) => { try { return await run() } catch { return 'blocked' } }
;(async () => {
  const result = {
    read: await attempt(async () => 'read ' + (await (await fetch(app + '/api/sessions', { credentials: 'include' })).text())),
    logout: await attempt(async () => {
      await fetch(app + '/api/logout', { method: 'POST', credentials: 'include', mode: 'no-cors' })
      return 'sent'
    }),
    revoke: await attempt(async () => {
      const response = await fetch(app + '/api/sessions/' + ${JSON.stringify(handle)}, { method: 'DELETE', credentials: 'include' })
      return 'answered ' + response.status
    }),
  }
  document.getElementById('result').textContent = JSON.stringify(result)
})()
</script>`
}

/** Serves `/form?action=URL` and `/fetch?app=URL&handle=H` on localhost. */
export async function startAttacker(): Promise<Attacker> {
  const handler = (req: import('node:http').IncomingMessage, res: import('node:http').ServerResponse) => {
    const url = new URL(req.url ?? '/', 'http://localhost')
    const body =
      url.pathname === '/form'
        ? formPage(url.searchParams.get('action') ?? '')
        : fetchPage(url.searchParams.get('app') ?? '', url.searchParams.get('handle') ?? '')
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8' }).end(body)
  }
  // "localhost" may resolve to 127.0.0.1 or ::1: answer on both.
  const v4: Server = createServer(handler).listen(0, '127.0.0.1')
  await once(v4, 'listening')
  const { port } = v4.address() as AddressInfo
  const v6: Server = createServer(handler)
  v6.on('error', () => {})
  v6.listen(port, '::1')
  const close = (server: Server) =>
    new Promise<void>((resolve) => {
      server.closeAllConnections()
      server.close(() => resolve())
      if (!server.listening) resolve()
    })
  return { url: `http://localhost:${port}`, close: async () => void (await Promise.all([close(v4), close(v6)])) }
}
