// A binary min-heap of slots ordered by `at[slot]`, each slot's index in `items` kept in `pos[slot]`: a slot whose
// deadline moves is sifted in place and a deleted one is taken out, so the heap never holds stale entries and costs
// one small integer per session. The arrays are passed in because the table that owns them grows them.

export function heapInsert(items: number[], slot: number, at: Float64Array, pos: Int32Array): void {
  items.push(slot)
  siftUp(items, items.length - 1, at, pos)
}

export function heapRemove(items: number[], slot: number, at: Float64Array, pos: Int32Array): void {
  const i = pos[slot]!
  const last = items.pop()!
  if (last === slot) return
  items[i] = last
  pos[last] = i
  heapFix(items, i, at, pos)
}

/** Restores the order after `at[items[i]]` changed. */
export function heapFix(items: number[], i: number, at: Float64Array, pos: Int32Array): void {
  if (!siftUp(items, i, at, pos)) siftDown(items, i, at, pos)
}

function siftUp(items: number[], from: number, at: Float64Array, pos: Int32Array): boolean {
  const slot = items[from]!
  const key = at[slot]!
  let i = from
  while (i > 0) {
    const parent = (i - 1) >> 1
    const above = items[parent]!
    if (at[above]! <= key) break
    items[i] = above
    pos[above] = i
    i = parent
  }
  items[i] = slot
  pos[slot] = i
  return i !== from
}

function siftDown(items: number[], from: number, at: Float64Array, pos: Int32Array): void {
  const slot = items[from]!
  const key = at[slot]!
  const n = items.length
  let i = from
  for (let child = 2 * i + 1; child < n; child = 2 * i + 1) {
    if (child + 1 < n && at[items[child + 1]!]! < at[items[child]!]!) child++
    const below = items[child]!
    if (at[below]! >= key) break
    items[i] = below
    pos[below] = i
    i = child
  }
  items[i] = slot
  pos[slot] = i
}
