import fc from 'fast-check'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { queryPairs } from './grammar.ts'
import { startRest, type RestHarness } from './support.ts'

const column = fc.constantFrom('id', 'name', 'slug', 'data', 'hotel_id', 'nope', 'task', 'user_id', 'is_public', 'username', 'status', 'age_range', '')
const jsonValue = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.constantFrom('\u0000', 'x'.repeat(10_000), '[1,2)', 'ONLINE', 'not-a-uuid', '11111111-1111-1111-1111-111111111111', 2 ** 53, -1e308, 1e308),
  fc.integer({ min: 1, max: 300 }).map((n) => JSON.parse('['.repeat(n) + ']'.repeat(n))),
)
const row = fc.dictionary(column, jsonValue, { maxKeys: 4 })
const body = fc.oneof(
  row.map((r) => JSON.stringify(r)),
  fc.array(row, { maxLength: 5 }).map((rs) => JSON.stringify(rs)),
  fc.jsonValue().map((v) => JSON.stringify(v)),
  fc.string({ maxLength: 30 }),
  fc.constantFrom('', '{', '[{}]', '[]', 'null', '{"id": 1}{"id": 2}'),
)
const prefer = fc.subarray(['return=representation', 'return=headers-only', 'return=minimal', 'count=exact', 'resolution=merge-duplicates', 'resolution=ignore-duplicates', 'missing=default', 'tx=rollback', 'handling=strict', 'max-affected=1', 'bogus=1']).map((ps) => ps.join(', '))

describeEachDatabase('hostile writes over HTTP', (ctx) => {
  let rest: RestHarness
  beforeAll(async () => {
    rest = await startRest(ctx())
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('never answers 5xx to any body, preference or query string on a write', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom('hotel', 'channels', 'todos', 'users', 'booking', 'rpc/get_status', 'rpc/sum_json', 'rpc/void_func', 'nope'),
        fc.constantFrom('POST', 'PATCH', 'DELETE', 'PUT'),
        fc.oneof(queryPairs, fc.constant([['id', 'eq.1']] as Array<[string, string]>)),
        body,
        prefer,
        fc.constantFrom('service', 'anon', 'user'),
        fc.constantFrom('application/json', 'text/csv', 'application/x-www-form-urlencoded'),
        async (target, method, pairs, payload, preferHeader, who, contentType) => {
          const headers: Record<string, string> = { 'Content-Type': contentType, Prefer: preferHeader }
          if (who === 'service') headers.Authorization = `Bearer ${rest.app.serviceRoleKey}`
          if (who === 'user') headers.Authorization = `Bearer ${await rest.token({ sub: '11111111-1111-1111-1111-111111111111', role: 'authenticated' })}`
          const qs = new URLSearchParams(pairs).toString()
          const res = await rest.fetch(`/${target}?${qs}`, { method, headers, body: payload })
          const text = await res.text()
          expect(res.status < 500, `${method} /${target}?${qs} ${payload.slice(0, 200)} → ${res.status} ${text.slice(0, 300)}`).toBe(true)
          if (res.status >= 400) {
            let code: unknown
            try {
              code = (JSON.parse(text) as { code?: unknown }).code
            } catch {
              code = undefined
            }
            expect(code, `${method} /${target}?${qs} → ${res.status} ${JSON.stringify(text)}`).toBeTypeOf('string')
          }
        },
      ),
      { numRuns: 250 },
    )
  }, 300_000)
})
