/** `coatcheck secret`. */
import { randomBytes } from 'node:crypto'
import type { Command } from '../command.ts'

export const secret: Command = {
  name: 'secret',
  summary: 'Print a new random secret, ready for SESSION_SECRET',
  usage: '',
  description: `Prints 32 bytes from the system's CSPRNG as base64url (43 characters), on one line: a session secret
as session({ secret }) wants it (at least 32 characters). For example:
  echo "SESSION_SECRET=$(npx coatcheck secret)" >> .env
To rotate a secret without signing everyone out, put the new one first and keep the old one after it,
session({ secret: [newSecret, oldSecret] }), until the old cookies have expired. Opens no store.`,
  options: {},
  async run(context) {
    await context.out.line(randomBytes(32).toString('base64url'))
  },
}
