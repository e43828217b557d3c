/**
 * Graceful shutdown, HTTP side: once draining, the runtime has stopped listening (new
 * connections are refused); a request that still arrives on an open keep-alive connection is
 * served as usual but answered with `Connection: close`, so the client moves on without seeing an
 * error the shutdown caused. The runtime waits on `idle()`, then closes what is left.
 * @module
 */
import type { MiddlewareHandler } from 'hono'

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

  middleware(): MiddlewareHandler {
    return async (c, next) => {
      this.#inFlight++
      try {
        await next()
      } finally {
        // Set after the handler, so error responses rendered by onError carry it too.
        if (this.#draining) c.res.headers.set('Connection', 'close')
        this.#inFlight--
        this.#notify()
      }
    }
  }

  #notify(): void {
    if (this.#inFlight > 0) return
    for (const resolve of this.#waiters.splice(0)) resolve()
  }
}
