// A binary min-heap on `at`, kept in an array. A sorted array is a valid heap.

export function heapPush<T extends { at: number }>(items: T[], entry: T): void {
  let i = items.push(entry) - 1
  for (let parent = (i - 1) >> 1; i > 0 && items[parent]!.at > entry.at; i = parent, parent = (i - 1) >> 1) {
    items[i] = items[parent]!
  }
  items[i] = entry
}

export function heapPop<T extends { at: number }>(items: T[]): T | undefined {
  const top = items[0]
  const last = items.pop()!
  if (items.length === 0) return top
  let i = 0
  for (let child = 1; child < items.length; i = child, child = 2 * i + 1) {
    if (child + 1 < items.length && items[child + 1]!.at < items[child]!.at) child++
    if (items[child]!.at >= last.at) break
    items[i] = items[child]!
  }
  items[i] = last
  return top
}
