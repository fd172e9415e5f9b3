/**
 * coatcheck needs Node ≥ 24.7: Argon2id in `node:crypto` (`crypto.argon2`) came with 24.7, and `node:sqlite` with
 * 22.5. Said at import time rather than at the first login as "crypto.argon2 is not a function".
 */
import crypto from 'node:crypto'

export const REQUIRED_NODE = '24.7.0'

if (typeof (crypto as { argon2?: unknown }).argon2 !== 'function') {
  throw new Error(
    `coatcheck requires Node.js ≥ ${REQUIRED_NODE} (for Argon2id in node:crypto); this is Node.js ${process.versions.node}`,
  )
}
