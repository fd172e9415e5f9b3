/** Requests that reach a gate wait there, their session already loaded, until the test opens it. */
export class Gate {
  arrived = 0
  #open!: () => void
  #opened = new Promise<void>((resolve) => {
    this.#open = resolve
  })
  readonly wait = async () => {
    this.arrived++
    await this.#opened
  }
  open(): void {
    this.#open()
  }
  async until(count: number): Promise<void> {
    while (this.arrived < count) await new Promise((resolve) => setTimeout(resolve, 2))
  }
}
