/**
 * Graceful shutdown, HTTP side: once draining, new requests get 503 `shutting_down` with
 * `Connection: close`, while requests already in flight finish. The runtime waits on `idle()`.
 * @module
 */
import type { MiddlewareHandler } from 'hono'
import { appError } from '../errors.ts'

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
      if (this.#draining) {
        c.header('Connection', 'close')
        throw appError('shutting_down', 'The server is shutting down; retry on another instance', { headers: { 'Retry-After': '1', Connection: 'close' } })
      }
      this.#inFlight++
      try {
        await next()
      } finally {
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
