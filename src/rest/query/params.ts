/**
 * Collects the values of one statement; each value becomes `$n`. Nothing from a request is ever
 * written into the SQL text except through `ident()` or as one of these placeholders.
 * @module
 */
export class Params {
  readonly values: unknown[] = []

  add(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }
}

/** A PostgreSQL array literal (`{"a","b"}`) from strings; every element is quoted and escaped. */
export function arrayLiteral(items: readonly string[]): string {
  return '{' + items.map((s) => '"' + s.replaceAll('\\', '\\\\').replaceAll('"', '\\"') + '"').join(',') + '}'
}
