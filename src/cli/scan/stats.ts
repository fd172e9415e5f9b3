/** The counts of `coatcheck stats`, and how a backend that cannot count in place sums them. */

export const HOUR = 3_600_000
export const DAY = 24 * HOUR
export const WEEK = 7 * DAY

/** Live sessions by age (now − createdAt): each session is in exactly one bucket. */
export interface AgeBuckets {
  under1h: number
  under1d: number
  under7d: number
  older: number
}

/** Counts over the live sessions of a store. */
export interface Stats {
  sessions: number
  /** Sessions with a user. */
  loggedIn: number
  anonymous: number
  /** Distinct users with at least one live session. */
  users: number
  age: AgeBuckets
}

/** Sums sessions into {@link Stats} one at a time, for a backend that cannot count them itself. */
export class Tally {
  readonly #now: number
  readonly #users = new Set<string>()
  readonly stats: Stats = {
    sessions: 0,
    loggedIn: 0,
    anonymous: 0,
    users: 0,
    age: { under1h: 0, under1d: 0, under7d: 0, older: 0 },
  }

  constructor(now: number) {
    this.#now = now
  }

  add(userId: string | null, createdAt: number): void {
    const s = this.stats
    s.sessions++
    if (userId === null) s.anonymous++
    else {
      s.loggedIn++
      this.#users.add(userId)
      s.users = this.#users.size
    }
    const age = this.#now - createdAt
    if (age < HOUR) s.age.under1h++
    else if (age < DAY) s.age.under1d++
    else if (age < WEEK) s.age.under7d++
    else s.age.older++
  }
}
