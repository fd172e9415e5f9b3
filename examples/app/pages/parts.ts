/** Small pieces the pages share: labelled form fields, announced errors, and times a person can read. */
import { type Html, html } from '../html.ts'

export interface Field {
  label: string
  name: string
  type?: 'text' | 'email' | 'password' | 'hidden'
  value?: string
  autocomplete?: string
  /** Shown under the label and linked to the input (`aria-describedby`). */
  hint?: string
  /** This field's error: the input is marked invalid and the message is linked to it. */
  error?: string
  minlength?: number
  maxlength?: number
}

/** A labelled input. Every input has a `<label>`; its hint and error are read with it. */
export function field(f: Field): Html {
  const id = `field-${f.name}`
  const described = [f.hint && `${id}-hint`, f.error && `${id}-error`].filter(Boolean).join(' ')
  return html`<div class="field">
  <label for="${id}">${f.label}</label>
  ${f.hint && html`<p class="hint" id="${id}-hint">${f.hint}</p>`}
  ${f.error && html`<p class="field-error" id="${id}-error">${f.error}</p>`}
  <input id="${id}" name="${f.name}" type="${f.type ?? 'text'}" value="${f.value ?? ''}" required
    ${f.autocomplete && html`autocomplete="${f.autocomplete}"`}
    ${f.minlength && html`minlength="${f.minlength}"`} ${f.maxlength && html`maxlength="${f.maxlength}"`}
    ${described && html`aria-describedby="${described}"`} ${f.error && html`aria-invalid="true"`}>
</div>`
}

/** A form-level error, announced by screen readers as soon as the page shows it. */
export const alert = (message: string | undefined): Html | undefined =>
  message ? html`<div class="alert" role="alert">${message}</div>` : undefined

const relative = new Intl.RelativeTimeFormat('en', { numeric: 'auto' })
const STEPS: Array<[Intl.RelativeTimeFormatUnit, number]> = [
  ['second', 60],
  ['minute', 60],
  ['hour', 24],
  ['day', 30],
  ['month', 12],
  ['year', Number.POSITIVE_INFINITY],
]

/** "3 minutes ago", "in 24 hours", "just now". */
export function fromNow(at: number, now = Date.now()): string {
  let amount = (at - now) / 1000
  if (amount < 1 && amount > -5) return 'just now'
  for (const [unit, size] of STEPS) {
    if (Math.abs(amount) < size) return relative.format(Math.round(amount), unit)
    amount /= size
  }
  return relative.format(Math.round(amount), 'year')
}

const absolute = new Intl.DateTimeFormat('en-GB', {
  dateStyle: 'medium',
  timeStyle: 'short',
  timeZone: 'UTC',
})

/** A `<time>` reading "in 24 hours", with the exact moment (UTC) beside it and in `datetime`. */
export function time(at: number, now = Date.now()): Html {
  const date = new Date(at)
  return html`<time datetime="${date.toISOString()}">${fromNow(at, now)}</time>
    <span class="exact">(${absolute.format(date)} UTC)</span>`
}
