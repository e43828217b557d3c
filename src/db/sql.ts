/**
 * The injection boundary. Identifiers reach SQL text only through `ident`; values only as `$n`
 * parameters. Every module that builds SQL from request input goes through here.
 * @module
 */

/** Quotes an identifier the way PostgreSQL's quote_ident does, always (no keyword guessing). */
export function ident(name: string): string {
  if (typeof name !== 'string' || name.length === 0) throw new TypeError('identifier must be a non-empty string')
  if (name.includes('\u0000')) throw new TypeError('identifier must not contain NUL')
  return '"' + name.replaceAll('"', '""') + '"'
}

/** `schema.name`, both parts quoted. */
export function qualified(schema: string, name: string): string {
  return `${ident(schema)}.${ident(name)}`
}

/** A SQL string literal for trusted, non-request text only (e.g. bootstrap DDL that cannot take parameters). */
export function literal(value: string): string {
  if (value.includes('\u0000')) throw new TypeError('literal must not contain NUL')
  return "'" + value.replaceAll("'", "''") + "'"
}
