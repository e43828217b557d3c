/**
 * The operator table is the one place an operator gets its SQL: the compiler refuses an operator
 * of the parser's list without an entry, and an entry without its SQL (the `@ts-expect-error`
 * lines fail `npm run lint` if either ever compiles).
 */
import { describe, expect, it } from 'vitest'
import { OPERATORS, type Operator } from '../../src/rest/parse/types.ts'
import { OPERATOR_SQL, type OperatorSpec } from '../../src/rest/query/operators.ts'
import { filterSql } from '../../src/rest/query/expressions.ts'
import { Params } from '../../src/rest/query/params.ts'

describe('OPERATOR_SQL', () => {
  it('has an entry for exactly the operators the parser accepts', () => {
    expect(Object.keys(OPERATOR_SQL).sort()).toEqual([...OPERATORS].sort())
  })

  it('does not compile with an operator missing or without SQL', () => {
    const { eq: _eq, ...withoutEq } = OPERATOR_SQL
    // @ts-expect-error `eq` has no entry
    const missing = withoutEq satisfies Record<Operator, OperatorSpec>
    // @ts-expect-error a compare operator needs its SQL operator
    const noSql = { ...OPERATOR_SQL, eq: { kind: 'compare' } } satisfies Record<Operator, OperatorSpec>
    // @ts-expect-error a full-text operator needs its tsquery function
    const noFn = { ...OPERATOR_SQL, fts: { kind: 'fts' } } satisfies Record<Operator, OperatorSpec>
    expect([missing, noSql, noFn]).toHaveLength(3)
  })

  it('renders each kind with the request values as parameters', () => {
    const field = { name: 'c', jsonPath: [] }
    const render = (op: Operator, value: string, extra: object = {}) => {
      const params = new Params()
      return [filterSql('t', { kind: 'filter', field, negated: false, op, value, ...extra }, 'text', params), params.values]
    }
    expect(render('ilike', 'a*')).toEqual(['"t"."c" ILIKE $1', ['a%']])
    expect(render('eq', '{1,2}', { quantifier: 'any' })).toEqual(['"t"."c" = ANY($1)', ['{1,2}']])
    expect(render('ov', '(1,2)')).toEqual(['"t"."c" && $1', ['{1,2}']])
    expect(render('is', 'not_null')).toEqual(['"t"."c" IS NOT NULL', []])
    expect(render('in', '', { list: ['a', 'b'] })).toEqual(['"t"."c" = ANY($1)', ['{"a","b"}']])
    expect(render('wfts', 'cat', { language: 'english' })).toEqual(['to_tsvector($1::regconfig, "t"."c") @@ websearch_to_tsquery($1::regconfig, $2)', ['english', 'cat']])
  })
})
