/**
 * Names for statements kept prepared on server connections, keyed by their text. Bounded: once
 * full, further shapes run unnamed, so no connection holds more than `max` of them. A schema
 * change starts a new generation; each connection drops its old statements before its next use.
 * @module
 */
export class PreparedNames {
  #names = new Map<string, string>()
  #generation = 0

  constructor(readonly max: number) {}

  get generation(): number {
    return this.#generation
  }

  /** The statement name for `sql`, or undefined when the cache is full. */
  nameFor(sql: string): string | undefined {
    let name = this.#names.get(sql)
    if (name === undefined && this.#names.size < this.max) {
      name = `r${this.#generation}_${this.#names.size}`
      this.#names.set(sql, name)
    }
    return name
  }

  forget(): void {
    this.#names.clear()
    this.#generation++
  }
}
