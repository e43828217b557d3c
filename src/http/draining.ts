/**
 * Graceful shutdown, HTTP side: once draining, the runtime has stopped listening (new
 * connections are refused); a request that still arrives on an open keep-alive connection is
 * served as usual but answered with `Connection: close`, so the client moves on without seeing an
 * error the shutdown caused. The runtime waits on `idle()`, then closes what is left.
 * @module
 */
export class Drain {
  #inFlight = 0
  #draining = false
  #waiters: Array<() => void> = []

  get draining(): boolean {
    return this.#draining
  }

  get inFlight(): number {
    return this.#inFlight
  }

  start(): void {
    this.#draining = true
    this.#notify()
  }

  /** Resolves when no request is in flight. */
  idle(): Promise<void> {
    if (this.#inFlight === 0) return Promise.resolve()
    return new Promise((resolve) => this.#waiters.push(resolve))
  }

  /** A request started (the request frame counts them). */
  enter(): void {
    this.#inFlight++
  }

  /** A request ended. */
  leave(): void {
    this.#inFlight--
    this.#notify()
  }

  #notify(): void {
    if (this.#inFlight > 0) return
    for (const resolve of this.#waiters.splice(0)) resolve()
  }
}
