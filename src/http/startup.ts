/**
 * Whether start-up has finished (the bootstrap done). Until then `/health` answers 503
 * `starting`, so a load balancer sends no traffic to a task whose `auth` schema may not exist yet.
 * @module
 */
export class StartupGate {
  #ready = false

  get ready(): boolean {
    return this.#ready
  }

  open(): void {
    this.#ready = true
  }
}
