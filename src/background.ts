/**
 * Work a request starts that may finish after its response — removing the bytes of the version an
 * upload replaced — kept track of, so whatever ends this process's work can wait for it first: a
 * Lambda invocation before it returns (the environment may freeze right after), a graceful
 * shutdown after draining, `services.close()` (the CLI). Anything still cut short (a crash, a kill)
 * must only leave what a later pass cleans up, e.g. bytes no row points at, which `storage sweep` removes.
 * @module
 */
export class BackgroundWork {
  #pending = new Set<Promise<void>>()

  /** Starts `task` now; it must handle (log) its own failures — one reaching here is swallowed. */
  run(task: () => Promise<void>): void {
    const running: Promise<void> = task()
      .catch(() => undefined)
      .finally(() => this.#pending.delete(running))
    this.#pending.add(running)
  }

  get pending(): number {
    return this.#pending.size
  }

  /** Resolves once nothing runs, tasks started while waiting included. */
  async idle(): Promise<void> {
    while (this.#pending.size > 0) await Promise.all(this.#pending)
  }
}
