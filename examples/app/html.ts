/**
 * A tiny HTML template that escapes by default: every interpolated value is escaped unless it is itself `html`
 * (a nested template), so user input can never become markup. Arrays are joined; null, undefined and false render
 * nothing, so `${cond && html`...`}` works.
 */
export class Html {
  readonly text: string
  constructor(text: string) {
    this.text = text
  }
  toString(): string {
    return this.text
  }
}

const ENTITIES: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** Escapes text for an element's content or a quoted attribute value. */
export const escapeHtml = (text: string): string => text.replace(/[&<>"']/g, (c) => ENTITIES[c]!)

function render(value: unknown): string {
  if (value instanceof Html) return value.text
  if (Array.isArray(value)) return value.map(render).join('')
  if (value === null || value === undefined || value === false) return ''
  return escapeHtml(String(value))
}

/** The tagged template: `html`<p>${name}</p>``. */
export function html(strings: TemplateStringsArray, ...values: unknown[]): Html {
  let text = strings[0]!
  for (let i = 0; i < values.length; i++) text += render(values[i]) + strings[i + 1]!
  return new Html(text)
}
