/** The front door, and the pages for a path that does not exist or a request that failed. */
import { html } from '../html.ts'
import { layout, type Visitor } from './layout.ts'

export function homePage(visitor: Visitor) {
  const actions = visitor.user
    ? html`<a class="button" href="/dashboard">Dashboard</a>`
    : html`<a class="button" href="/login">Sign in</a> <a class="button secondary" href="/register">Create account</a>`
  return layout(
    visitor,
    'Welcome',
    html`<h1>Sessions you can see and end</h1>
<p class="lead">This is the reference app of <strong>coatcheck</strong>, server-side sessions and login for Express.
Your browser holds only an opaque, signed ticket; who you are stays on the server.</p>
<p class="actions">${actions}</p>
<section aria-labelledby="try">
  <h2 id="try">Things to try</h2>
  <ul class="steps">
    <li>Create an account, then sign in from a second browser.</li>
    <li>Open <strong>Your devices</strong> in one and sign the other out: its next click lands on the sign-in page.</li>
    <li>Tick <strong>Remember me</strong>, restart the browser, and come back still signed in.</li>
    <li>Change your password: unless you signed in a moment ago you are asked for it again, and every other device
      is signed out.</li>
  </ul>
</section>`,
  )
}

export function notFoundPage(visitor: Visitor) {
  return layout(
    visitor,
    'Page not found',
    html`<h1>Page not found</h1>
<p class="lead">There is nothing at this address.</p>
<p><a href="/">Go to the home page</a></p>`,
  )
}

const FAILURES = {
  400: ['Bad request', 'The app could not understand this request.'],
  403: [
    'Request refused',
    'This request could not be verified, so nothing was changed. Reload the page and try again.',
  ],
  503: ['Service unavailable', 'The app cannot reach its session store right now. Please try again in a moment.'],
  500: ['Something went wrong', 'The request failed. Please try again in a moment.'],
} as const

/** A failed request: 503 when the session store is unreachable, 403 when csrf() refused it. Nothing internal is shown. */
export function errorPage(visitor: Visitor, status: number) {
  const [title, text] = FAILURES[status === 503 || status === 403 ? status : status >= 500 ? 500 : 400]
  return layout(
    visitor,
    title,
    html`<h1>${title}</h1>
<p class="lead">${text}</p>
<p><a href="/">Go to the home page</a></p>`,
  )
}
