import fc from 'fast-check'
import { loadModule, parseSync } from 'libpg-query'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { HttpError } from '../../src/errors.ts'
import { parseApiRequest } from '../../src/rest/parse/api-request.ts'
import { targets, type ApiRequest } from '../../src/rest/parse/types.ts'
import { planRead } from '../../src/rest/plan/read-plan.ts'
import { readStatement } from '../../src/rest/query/read-query.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { testCache } from './cache-fixture.ts'
import { aggregatePairs, MARK, queryPairs, table, validPairs } from './grammar.ts'
import { startRest, type RestHarness } from './support.ts'

/** SQL text with every double-quoted identifier removed. */
/** The read planner takes table requests only; the grammar's paths are all tables. */
function relationRequest(request: ApiRequest) {
  if (!targets(request, 'relation')) throw new Error(`not a table path: ${JSON.stringify(request.target)}`)
  return request
}

function outsideIdentifiers(sql: string): string {
  return sql.replace(/"(?:[^"]|"")*"/g, '""')
}

describe('the query-string grammar, without a database', () => {
  const cache = testCache()
  beforeAll(async () => {
    await loadModule()
  })

  it('either refuses with a 4xx (or 300) PostgREST error or builds one statement that carries request text only as identifiers and parameters', () => {
    fc.assert(
      fc.property(table, fc.oneof(queryPairs, validPairs), (tbl, pairs) => {
        let statement: { sql: string; params: unknown[] }
        try {
          const request = parseApiRequest({ method: 'GET', path: `/${tbl}`, params: pairs, headers: {}, schemas: ['public'] })
          statement = readStatement(planRead(relationRequest(request), cache, { maxRows: 1000 }).read, { body: 'array', count: 'exact' })
        } catch (error) {
          expect(error).toBeInstanceOf(HttpError)
          const e = error as HttpError
          expect(e.status === 300 || (e.status >= 400 && e.status < 500), `${e.status} ${e.message}`).toBe(true)
          expect(typeof e.body.code).toBe('string')
          return
        }
        expect(outsideIdentifiers(statement.sql)).not.toContain(MARK)
        const parsed = parseSync(statement.sql) as { stmts?: unknown[] }
        expect(parsed.stmts).toHaveLength(1)
      }),
      { numRuns: 1500 },
    )
  })

  it('with aggregates on, hostile aliases and casts on count(), col.fn() and embedded aggregates stay identifiers and parameters', () => {
    let planned = 0
    fc.assert(
      fc.property(table, fc.oneof(aggregatePairs, queryPairs), (tbl, pairs) => {
        let statement: { sql: string; params: unknown[] }
        try {
          const request = parseApiRequest({ method: 'GET', path: `/${tbl}`, params: pairs, headers: {}, schemas: ['public'] })
          statement = readStatement(planRead(relationRequest(request), cache, { maxRows: 1000, aggregatesEnabled: true }).read, { body: 'array', count: 'exact' })
        } catch (error) {
          expect(error).toBeInstanceOf(HttpError)
          const e = error as HttpError
          expect(e.status === 300 || (e.status >= 400 && e.status < 500), `${e.status} ${e.message}`).toBe(true)
          return
        }
        planned++
        expect(outsideIdentifiers(statement.sql)).not.toContain(MARK)
        const parsed = parseSync(statement.sql) as { stmts?: unknown[] }
        expect(parsed.stmts).toHaveLength(1)
      }),
      { numRuns: 1500 },
    )
    // The generator must reach SQL often, or the property proves nothing.
    expect(planned).toBeGreaterThan(150)
  })
})

describeEachDatabase('the query-string grammar over HTTP', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('never answers 5xx: any query string gets a 2xx or a 4xx/300 with a code', async () => {
    await fc.assert(
      fc.asyncProperty(table, fc.oneof(queryPairs, validPairs), fc.constantFrom('GET', 'HEAD'), async (tbl, pairs, method) => {
        const qs = new URLSearchParams(pairs).toString()
        const res = await rest.fetch(`/${tbl}?${qs}`, { method })
        const text = await res.text()
        expect(res.status < 500, `${method} /${tbl}?${qs} → ${res.status} ${text}`).toBe(true)
        if (res.status >= 300 && method === 'GET') expect(JSON.parse(text).code, text).toBeTypeOf('string')
      }),
      { numRuns: 300 },
    )
  }, 300_000)
})
