/** Records by key, indexed by user. A user without records leaves no empty set behind. */
export class Table<T extends { userId: string | null; expiresAt: number }> {
  readonly records = new Map<string, T>()
  readonly #byUser = new Map<string, Set<string>>()

  /** The record under `key`, deleted and not returned once its deadline is at or before `now`. */
  live(key: string, now: number): T | undefined {
    const record = this.records.get(key)
    if (record === undefined || record.expiresAt > now) return record
    this.delete(key)
  }

  add(key: string, record: T): void {
    this.delete(key)
    this.records.set(key, record)
    this.#index(key, record.userId)
  }

  delete(key: string): boolean {
    const record = this.records.get(key)
    if (record === undefined) return false
    this.records.delete(key)
    this.#unindex(key, record.userId)
    return true
  }

  /** A snapshot, so callers may delete while they iterate. */
  keysOf(userId: string): string[] {
    return [...(this.#byUser.get(userId) ?? [])]
  }

  /** Deletes every record of one user but `exceptKey`; returns how many of them were live. */
  deleteUser(userId: string, now: number, exceptKey?: string): number {
    let live = 0
    for (const key of this.keysOf(userId)) {
      if (key === exceptKey) continue
      if (this.records.get(key)!.expiresAt > now) live++
      this.delete(key)
    }
    return live
  }

  #index(key: string, userId: string | null): void {
    if (userId === null) return
    const keys = this.#byUser.get(userId)
    if (keys) keys.add(key)
    else this.#byUser.set(userId, new Set([key]))
  }

  #unindex(key: string, userId: string | null): void {
    const keys = userId === null ? undefined : this.#byUser.get(userId)
    if (keys?.delete(key) && keys.size === 0) this.#byUser.delete(userId!)
  }
}
