/** The signed-in pages: Dashboard, Your devices, Change password. */
import type { DeviceSession } from '../../../src/index.ts'
import { html } from '../html.ts'
import { PASSWORD_HINT, PASSWORD_MAX, PASSWORD_MIN } from './auth.ts'
import { csrfField, layout, type Visitor } from './layout.ts'
import { alert, field, time } from './parts.ts'

export interface SessionFacts {
  /** When the password was entered: for a session remember-me restored, the original sign-in. */
  signedInAt: number
  /** When this session began (the sign-in, or the remember-me restore). */
  createdAt: number
  /** When it ends if left unused, and when it ends at the latest. */
  idleExpiresAt: number
  absoluteExpiresAt: number
  restored: boolean
  /** This device has a remember-me token. */
  remembered: boolean
  label: string
}

const yesNo = (value: boolean) => (value ? 'Yes' : 'No')

export function dashboardPage(visitor: Visitor, facts: SessionFacts) {
  const signedIn = facts.restored
    ? html`${time(facts.signedInAt)} (restored ${time(facts.createdAt)} by remember-me)`
    : time(facts.signedInAt)
  return layout(
    visitor,
    'Dashboard',
    html`<h1>Dashboard</h1>
<p class="lead">Signed in as <strong id="who">${visitor.user?.email}</strong></p>
<section class="card" aria-labelledby="this-session">
  <h2 id="this-session">This session</h2>
  <dl class="facts">
    <div><dt>Signed in</dt><dd>${signedIn}</dd></div>
    <div><dt>Expires if unused</dt><dd>${time(facts.idleExpiresAt)}</dd></div>
    <div><dt>Expires at the latest</dt><dd>${time(facts.absoluteExpiresAt)}</dd></div>
    <div><dt>Restored by remember-me</dt><dd id="restored">${yesNo(facts.restored)}</dd></div>
    <div><dt>Device remembered</dt><dd id="remembered">${yesNo(facts.remembered)}</dd></div>
    <div><dt>Device</dt><dd>${facts.label}</dd></div>
  </dl>
</section>
<p>Signed in somewhere else too? See and end those sessions under <a href="/devices">Your devices</a>.</p>`,
  )
}

function deviceItem(visitor: Visitor, device: DeviceSession) {
  const badges = html`${device.current && html`<span class="badge current">This device</span>`}
    ${device.remembered && html`<span class="badge">Remembered</span>`}`
  const action = device.current
    ? ''
    : html`<form method="post" action="/devices/${device.handle}/sign-out">${csrfField(visitor)}
        <button type="submit" class="secondary">Sign out<span class="visually-hidden"> ${device.label}</span></button>
      </form>`
  return html`<li class="device${device.current ? ' is-current' : ''}">
  <div class="device-text">
    <p class="device-name">${device.label} ${badges}</p>
    <p class="device-meta">IP ${device.ip ?? 'unknown'} · last seen ${time(device.lastSeenAt)}</p>
  </div>
  ${action}
</li>`
}

export function devicesPage(visitor: Visitor, devices: DeviceSession[]) {
  const others = devices.filter((d) => !d.current).length
  return layout(
    visitor,
    'Your devices',
    html`<h1>Your devices</h1>
<p class="lead">Every browser signed in to your account. Don’t recognise one? Sign it out: it is signed out at once,
on every server.</p>
<ul class="devices" aria-label="Signed-in devices">${devices.map((device) => deviceItem(visitor, device))}</ul>
${
  others > 0
    ? html`<form method="post" action="/devices/sign-out-others" class="sign-out-others">${csrfField(visitor)}
        <button type="submit" class="danger">Sign out everywhere else</button></form>`
    : html`<p class="muted">No other device is signed in.</p>`
}`,
  )
}

export interface PasswordForm {
  error?: string
  passwordError?: string
  repeatError?: string
}

export function passwordPage(visitor: Visitor, form: PasswordForm = {}) {
  return layout(
    visitor,
    'Change password',
    html`<h1>Change password</h1>
<p class="lead">Every other device is signed out when you change it.</p>
${alert(form.error)}
<form method="post" action="/password" class="card">
  ${csrfField(visitor)}
  <input type="text" name="username" value="${visitor.user?.email}" autocomplete="username" hidden>
  ${field({ label: 'New password', name: 'password', type: 'password', autocomplete: 'new-password', hint: PASSWORD_HINT, error: form.passwordError, minlength: PASSWORD_MIN, maxlength: PASSWORD_MAX })}
  ${field({ label: 'Repeat new password', name: 'repeat', type: 'password', autocomplete: 'new-password', error: form.repeatError, maxlength: PASSWORD_MAX })}
  <button type="submit">Change password</button>
</form>`,
    { narrow: true },
  )
}
