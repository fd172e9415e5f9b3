/** The pages that let a visitor in: Create account, Sign in, and Confirm your password (before a sensitive change). */
import { html } from '../html.ts'
import { csrfField, layout, type Visitor } from './layout.ts'
import { alert, field } from './parts.ts'

export const PASSWORD_MIN = 10
export const PASSWORD_MAX = 256
export const PASSWORD_HINT = `At least ${PASSWORD_MIN} characters. Longer is stronger: a few unrelated words work well.`

export interface RegisterForm {
  email?: string
  error?: string
  emailError?: string
  passwordError?: string
}

export function registerPage(visitor: Visitor, form: RegisterForm = {}) {
  return layout(
    visitor,
    'Create account',
    html`<h1>Create account</h1>
<p class="lead">One account, every device: you will see each of them under “Your devices”.</p>
${alert(form.error)}
<form method="post" action="/register" class="card">
  ${csrfField(visitor)}
  ${field({ label: 'Email', name: 'email', type: 'email', value: form.email, autocomplete: 'email', error: form.emailError, maxlength: 254 })}
  ${field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'new-password', hint: PASSWORD_HINT, error: form.passwordError, minlength: PASSWORD_MIN, maxlength: PASSWORD_MAX })}
  <button type="submit">Create account</button>
</form>
<p>Already have an account? <a href="/login">Sign in</a></p>`,
    { narrow: true },
  )
}

export interface LoginForm {
  email?: string
  next?: string
  remember?: boolean
  error?: string
}

export function loginPage(visitor: Visitor, form: LoginForm = {}) {
  const action = form.next ? `/login?next=${encodeURIComponent(form.next)}` : '/login'
  return layout(
    visitor,
    'Sign in',
    html`<h1>Sign in</h1>
${alert(form.error)}
<form method="post" action="${action}" class="card">
  ${csrfField(visitor)}
  ${field({ label: 'Email', name: 'email', type: 'email', value: form.email, autocomplete: 'username', maxlength: 254 })}
  ${field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', maxlength: PASSWORD_MAX })}
  <div class="check">
    <input id="field-remember" name="remember" type="checkbox"${form.remember ? html` checked` : ''}>
    <label for="field-remember">Remember me</label>
  </div>
  <button type="submit">Sign in</button>
</form>
<p>New here? <a href="/register">Create account</a></p>`,
    { narrow: true },
  )
}

export interface ConfirmForm {
  next: string
  error?: string
}

/** Asked before a sensitive change when the password was not entered recently (or the session was remembered). */
export function confirmPage(visitor: Visitor, form: ConfirmForm) {
  return layout(
    visitor,
    'Confirm your password',
    html`<h1>Confirm your password</h1>
<p class="lead">You signed in a while ago, or this device was remembered. Enter your password again to continue.</p>
${alert(form.error)}
<form method="post" action="/confirm?next=${encodeURIComponent(form.next)}" class="card">
  ${csrfField(visitor)}
  <input type="text" name="username" value="${visitor.user?.email}" autocomplete="username" hidden>
  ${field({ label: 'Password', name: 'password', type: 'password', autocomplete: 'current-password', maxlength: PASSWORD_MAX })}
  <button type="submit">Confirm</button>
</form>`,
    { narrow: true },
  )
}
