import assert from 'node:assert/strict'
import { describe, it } from 'node:test'
import { setTimeout as sleep } from 'node:timers/promises'
import type { CoatcheckStore } from '../../../src/stores/types.ts'

/** Registers the rate-limit counters contract's cases against the store `current()` returns. */
export function counterCases(current: () => CoatcheckStore): void {
  const counters = () => current().counters
  describe('counters', () => {
    const windowMs = 60_000

    it('counts hits within one window, which its first hit opens', async () => {
      const t0 = Date.now()
      const first = await counters().hit('ip:1', windowMs)
      const t1 = Date.now()
      assert.equal(first.count, 1)
      assert.ok(first.resetAt >= t0 + windowMs - 5 && first.resetAt <= t1 + windowMs + 5, `resetAt ${first.resetAt}`)
      assert.deepEqual(await counters().hit('ip:1', windowMs), { count: 2, resetAt: first.resetAt })
      assert.deepEqual(await counters().hit('ip:1', windowMs), { count: 3, resetAt: first.resetAt })
    })

    it('peek reads the current window without counting a hit', async () => {
      assert.equal(await counters().peek('ip:1'), undefined)
      const first = await counters().hit('ip:1', windowMs)
      assert.deepEqual(await counters().peek('ip:1'), { count: 1, resetAt: first.resetAt })
      assert.deepEqual(await counters().peek('ip:1'), { count: 1, resetAt: first.resetAt })
      assert.equal((await counters().hit('ip:1', windowMs)).count, 2)
      await counters().hit('ip:short', 20)
      await sleep(30)
      assert.equal(await counters().peek('ip:short'), undefined, 'an ended window is not reported')
    })

    it('reset starts over', async () => {
      await counters().hit('ip:1', windowMs)
      await counters().hit('ip:1', windowMs)
      await counters().reset('ip:1')
      assert.equal((await counters().hit('ip:1', windowMs)).count, 1)
      await counters().reset('never-hit')
    })

    it('keeps keys apart', async () => {
      await counters().hit('ip:1', windowMs)
      await counters().hit('ip:1', windowMs)
      assert.equal((await counters().hit('ip:2', windowMs)).count, 1)
      assert.equal((await counters().hit('ip:1', windowMs)).count, 3)
    })

    it('counts concurrent hits exactly', async () => {
      const states = await Promise.all(Array.from({ length: 6 }, () => counters().hit('ip:1', windowMs)))
      assert.deepEqual(
        states.map((s) => s.count).sort((a, b) => a - b),
        [1, 2, 3, 4, 5, 6],
      )
      assert.equal(new Set(states.map((s) => s.resetAt)).size, 1)
    })

    it('opens a new window once the old one has ended', async () => {
      const first = await counters().hit('ip:1', 20)
      await counters().hit('ip:1', 20)
      await sleep(30)
      const next = await counters().hit('ip:1', 20)
      assert.equal(next.count, 1)
      assert.ok(next.resetAt > first.resetAt, 'a new resetAt')
    })
  })
}
