/**
 * A preload for hunting clock-tick flakes: every `Date.now()` reading is at least 1 ms after the one before, so a test
 * that reads the clock twice and assumes both readings agree fails every time instead of once in a while on CI.
 *
 *   ./node_modules/.bin/node --import ./test/support/ticking-clock.ts --test test/session/*.test.ts
 *
 * Expected failures under it: the store conformance cases on Redis and PostgreSQL that store a record "just expired"
 * by this clock and let the server's own clock judge it (the skew this adds is larger than their margin).
 */
const realNow = Date.now
let last = 0
Date.now = () => {
  const now = realNow()
  last = now > last ? now : last + 1
  return last
}
