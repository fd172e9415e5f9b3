/** The page shell (header with the navigation and the "Sign out" button, the flash message) and how a page is sent. */
import type { Response } from 'express'
import { type Html, html } from '../html.ts'
import type { User } from '../users.ts'

/** Who is looking, as every page needs it. */
export interface Visitor {
  user: User | undefined
  /** A masked CSRF token for a form's `_csrf` field. */
  csrfToken(): string
  /** The flash message left by the previous request, once: reading it removes it from the session. */
  takeFlash(): string | undefined
  /** The path of this request, to mark the current navigation link. */
  path: string
}

export const visitorOf = (res: Response): Visitor => res.locals.visitor as Visitor

/** The hidden field that carries the CSRF token of a form. */
export const csrfField = (visitor: Visitor) => html`<input type="hidden" name="_csrf" value="${visitor.csrfToken()}">`

function navLink(visitor: Visitor, href: string, label: string): Html {
  const current = visitor.path === href ? html` aria-current="page"` : ''
  return html`<a href="${href}"${current}>${label}</a>`
}

function header(visitor: Visitor): Html {
  const user = visitor.user
  const links = user
    ? html`${navLink(visitor, '/dashboard', 'Dashboard')} ${navLink(visitor, '/devices', 'Your devices')}
        ${navLink(visitor, '/password', 'Change password')}`
    : html`${navLink(visitor, '/login', 'Sign in')} ${navLink(visitor, '/register', 'Create account')}`
  const signOut =
    user &&
    html`<form method="post" action="/logout" class="sign-out">${csrfField(visitor)}
      <button type="submit" class="secondary">Sign out</button></form>`
  return html`<header class="site"><div class="bar">
    <a class="brand" href="/">coatcheck</a><nav aria-label="Main">${links}</nav>${signOut}</div></header>`
}

/** A whole document: `title` names the page (and its tab), `main` is its content; `narrow` suits a single form. */
export function layout(visitor: Visitor, title: string, main: Html, { narrow = false } = {}): Html {
  const flash = visitor.takeFlash()
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>${title} · coatcheck</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="/style.css">
</head>
<body>
${header(visitor)}
<main id="main"${narrow ? html` class="narrow"` : ''}>
${flash && html`<p class="flash" role="status">${flash}</p>`}
${main}
</main>
<footer class="site">The coatcheck reference app: server-side sessions and login for Express.</footer>
</body>
</html>
`
}

/** Sends a page. Every page is personal (its CSRF token, its flash, its user), so none is ever cached. */
export function sendPage(res: Response, status: number, document: Html): void {
  res.status(status).set('Cache-Control', 'no-store').type('html').send(document.text)
}
