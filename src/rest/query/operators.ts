/**
 * The SQL of every filter operator, in one table checked against the parser's `OPERATORS`:
 * an operator the parser accepts but that has no SQL here does not compile (`satisfies`).
 * @module
 */
import type { IsValue, Operator } from '../parse/types.ts'

export type OperatorSpec =
  /** `lhs <sql> $value`, or `lhs <sql> ANY|ALL($values)` with a quantifier; `like` turns `*` into `%`. */
  | { readonly kind: 'compare'; readonly sql: string; readonly like?: true }
  /** `lhs <sql> $value` (arrays, ranges); `arrayOrRange` also takes `(a,b)` for `{a,b}`. */
  | { readonly kind: 'binary'; readonly sql: string; readonly arrayOrRange?: true }
  /** `to_tsvector(lhs) @@ <fn>($value)`, with the optional text search configuration. */
  | { readonly kind: 'fts'; readonly fn: string }
  /** `lhs IS …`, the SQL for each accepted value. */
  | { readonly kind: 'is'; readonly sql: Readonly<Record<IsValue, string>> }
  /** `lhs = ANY($list)`. */
  | { readonly kind: 'in' }

export const OPERATOR_SQL = {
  eq: { kind: 'compare', sql: '=' },
  neq: { kind: 'compare', sql: '<>' },
  gt: { kind: 'compare', sql: '>' },
  gte: { kind: 'compare', sql: '>=' },
  lt: { kind: 'compare', sql: '<' },
  lte: { kind: 'compare', sql: '<=' },
  like: { kind: 'compare', sql: 'LIKE', like: true },
  ilike: { kind: 'compare', sql: 'ILIKE', like: true },
  match: { kind: 'compare', sql: '~' },
  imatch: { kind: 'compare', sql: '~*' },
  in: { kind: 'in' },
  is: { kind: 'is', sql: { null: 'IS NULL', not_null: 'IS NOT NULL', true: 'IS TRUE', false: 'IS FALSE', unknown: 'IS UNKNOWN' } },
  isdistinct: { kind: 'binary', sql: 'IS DISTINCT FROM' },
  cs: { kind: 'binary', sql: '@>' },
  cd: { kind: 'binary', sql: '<@' },
  ov: { kind: 'binary', sql: '&&', arrayOrRange: true },
  sl: { kind: 'binary', sql: '<<' },
  sr: { kind: 'binary', sql: '>>' },
  nxr: { kind: 'binary', sql: '&<' },
  nxl: { kind: 'binary', sql: '&>' },
  adj: { kind: 'binary', sql: '-|-' },
  fts: { kind: 'fts', fn: 'to_tsquery' },
  plfts: { kind: 'fts', fn: 'plainto_tsquery' },
  phfts: { kind: 'fts', fn: 'phraseto_tsquery' },
  wfts: { kind: 'fts', fn: 'websearch_to_tsquery' },
} as const satisfies Record<Operator, OperatorSpec>
