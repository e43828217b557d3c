/**
 * fast-check generators over PostgREST's query-string grammar, mixed with hostile fragments.
 * Every request-controlled name and value may carry MARK, so a test can check that MARK never
 * reaches SQL text outside a quoted identifier.
 */
import fc from 'fast-check'
import { OPERATORS } from '../../src/rest/parse/types.ts'

export const MARK = 'ZQXMARK'

const hostile = fc.constantFrom(MARK, `${MARK}"; DROP TABLE users; --`, `'${MARK}`, `a"${MARK}`, `${MARK})`, `${MARK},x`, `(${MARK}`, `${MARK}.y`, `${MARK}::int`, `${MARK}->x`, '', ' ', '\\', '"', `$1${MARK}`, `${MARK}\u0000`)
const column = fc.constantFrom('username', 'status', 'data', 'id', 'message', 'channel_id', 'slug', 'catchphrase', 'age_range')
const relation = fc.constantFrom('messages', 'users', 'channels', 'channel_details', 'categories', 'best_friends', 'nope')
const word = fc.oneof({ weight: 3, arbitrary: column }, { weight: 2, arbitrary: hostile }, { weight: 1, arbitrary: fc.string({ maxLength: 6 }).map((s) => s + MARK) })
const quoted = word.map((w) => `"${w.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`)
const name = fc.oneof({ weight: 6, arbitrary: column }, { weight: 1, arbitrary: word }, { weight: 2, arbitrary: quoted })
const jsonPath = fc.array(fc.tuple(fc.constantFrom('->', '->>'), fc.oneof(quoted, fc.constantFrom('a', 'key'), fc.integer({ min: -3, max: 3 }).map(String))), { maxLength: 2 }).map((steps) => steps.map(([a, k]) => a + k).join(''))
const cast = fc.constantFrom('', '', '', '::text', '::int', `::${MARK}`, '::jsonb')

const selectItem: fc.Arbitrary<string> = fc.letrec((tie) => ({
  item: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constant('*'),
    fc.tuple(fc.option(word, { nil: undefined }), name, jsonPath, cast).map(([alias, n, p, c]) => `${alias ? alias + ':' : ''}${n}${p}${c}`),
    fc.tuple(fc.option(word, { nil: undefined }), fc.constantFrom('', '...'), relation, fc.constantFrom('', '!inner', '!left', `!${MARK}`, '!messages_username_fkey'), tie('list')).map(
      ([alias, spread, rel, hint, list]) => `${alias && !spread ? alias + ':' : ''}${spread}${rel}${hint}(${list})`,
    ),
  ),
  list: fc.array(tie('item'), { minLength: 0, maxLength: 3 }).map((items) => items.join(',')),
})).item as fc.Arbitrary<string>

const value = fc.oneof(word, fc.string({ maxLength: 8 }).map((s) => s + MARK), fc.constantFrom('1', 'null', 'true', '{a,b}', '(1,2)', '[1,5)', `{${MARK}}`, `("${MARK}",x)`, `(${MARK})`))
const operator = fc.oneof({ weight: 8, arbitrary: fc.constantFrom(...OPERATORS) }, { weight: 1, arbitrary: word })
const filterValue = fc.tuple(fc.boolean(), operator, fc.constantFrom('', '', '', '', '(any)', '(all)', '(english)'), value).map(([not, op, mod, v]) => `${not ? 'not.' : ''}${op}${mod}.${v}`)
const treeItem = fc.tuple(name, filterValue).map(([n, f]) => `${n}.${f}`)
const tree = fc.array(fc.oneof(treeItem, fc.array(treeItem, { minLength: 1, maxLength: 2 }).map((xs) => `and(${xs.join(',')})`)), { minLength: 0, maxLength: 3 }).map((xs) => `(${xs.join(',')})`)
const orderTerm = fc.tuple(fc.oneof(name, relation.map((r) => `${r}(id)`)), fc.constantFrom('', '.asc', '.desc', '.desc.nullslast', '.nullsfirst', `.${MARK}`)).map(([n, d]) => n + d)

const pair: fc.Arbitrary<[string, string]> = fc.oneof(
  selectItem.map((s): [string, string] => ['select', s]),
  fc.tuple(fc.option(relation, { nil: undefined }), name, jsonPath, filterValue).map(([rel, n, p, f]): [string, string] => [`${rel ? rel + '.' : ''}${n}${p}`, f]),
  fc.tuple(fc.option(relation, { nil: undefined }), fc.constantFrom('or', 'and', 'not.or'), tree).map(([rel, op, t]): [string, string] => [`${rel ? rel + '.' : ''}${op}`, t]),
  fc.array(orderTerm, { minLength: 1, maxLength: 3 }).map((ts): [string, string] => ['order', ts.join(',')]),
  fc.tuple(fc.constantFrom('limit', 'offset', 'messages.limit'), fc.oneof(fc.nat(20).map(String), value)).map(([k, v]): [string, string] => [k, v]),
  fc.tuple(word, value).map(([k, v]): [string, string] => [k, v]),
)

/** A whole query string as an ordered list of pairs. */
export const queryPairs = fc.array(pair, { minLength: 0, maxLength: 4 })
export const table = fc.constantFrom('users', 'messages', 'channels', 'products', 'todos', 'users', 'messages', 'nope')

// Well-formed requests whose names and values all carry MARK: most of them reach SQL.
const markedText = fc.string({ maxLength: 10 }).map((s) => `${s}${MARK}`.replaceAll('\u0000', ''))
const markedName = fc.oneof(column, markedText.map((s) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`))
const markedValue = fc.oneof(markedText, fc.constantFrom(`${MARK}'); DROP TABLE users; --`, `${MARK}" OR 1=1 --`, `$1${MARK}`))
const simpleOp = fc.constantFrom('eq', 'neq', 'gt', 'lte', 'like', 'ilike', 'match', 'isdistinct', 'fts', 'plfts')
const validFilter = fc.tuple(column, fc.boolean(), simpleOp, markedValue).map(([c, not, op, v]): [string, string] => [c, `${not ? 'not.' : ''}${op}.${v}`])
const validIn = fc.tuple(column, fc.array(markedValue, { maxLength: 3 })).map(([c, vs]): [string, string] => [c, `in.(${vs.map((v) => `"${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')})`])
const validTree = fc.array(fc.tuple(column, simpleOp, markedValue), { minLength: 1, maxLength: 3 }).map((xs): [string, string] => ['or', `(${xs.map(([c, op, v]) => `${c}.${op}."${v.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`).join(',')})`])
const validSelect = fc.array(fc.tuple(fc.option(markedText.map((s) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`), { nil: undefined }), markedName, fc.constantFrom('', `->"${MARK}"`, `->>"${MARK}"`, '->0')), { minLength: 1, maxLength: 3 }).map(
  (items): [string, string] => ['select', items.map(([alias, n, p]) => `${alias ? alias + ':' : ''}${n}${p}`).join(',')],
)
const validOrder = fc.array(fc.tuple(markedName, fc.constantFrom('', '.desc', '.asc.nullsfirst')), { minLength: 1, maxLength: 2 }).map((ts): [string, string] => ['order', ts.map(([n, d]) => n + d).join(',')])
export const validPairs = fc.array(fc.oneof(validFilter, validIn, validTree, validSelect, validOrder), { minLength: 1, maxLength: 4 })

// Aggregates (run with DB_AGGREGATES_ENABLED): hostile aliases and casts on `count()` and
// `col.fn()`, at the top level and inside embeds, where an alias spliced into SQL would show.
const aggregateFn = fc.constantFrom('sum', 'avg', 'max', 'min', 'count')
const aggregateCast = fc.constantFrom('', '::int', '::text', `::${MARK}`, '::bigint')
const aggregateAlias = fc.option(fc.oneof(markedText.map((s) => `"${s.replaceAll('\\', '\\\\').replaceAll('"', '\\"')}"`), hostile, markedText), { nil: undefined })
const aggregateItem = fc.oneof(
  fc.tuple(aggregateAlias, aggregateCast).map(([alias, c]) => `${alias ? alias + ':' : ''}count()${c}`),
  fc.tuple(aggregateAlias, markedName, aggregateCast, aggregateFn, aggregateCast).map(([alias, n, c1, fn, c2]) => `${alias ? alias + ':' : ''}${n}${c1}.${fn}()${c2}`),
)
const aggregateList = fc.array(fc.oneof({ weight: 3, arbitrary: aggregateItem }, { weight: 1, arbitrary: column }), { minLength: 1, maxLength: 3 }).map((xs) => xs.join(','))
const aggregateSelect = fc.oneof(
  aggregateList,
  fc.tuple(fc.option(column, { nil: undefined }), aggregateAlias, fc.constantFrom('', '...'), relation, aggregateList).map(
    ([col, alias, spread, rel, list]) => `${col ? col + ',' : ''}${alias && !spread ? alias + ':' : ''}${spread}${rel}(${list})`,
  ),
)
export const aggregatePairs = fc.tuple(aggregateSelect, fc.array(validFilter, { maxLength: 2 })).map(([select, filters]): Array<[string, string]> => [['select', select], ...filters])
