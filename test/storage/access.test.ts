/**
 * `inOneStatement`: a lookup as the caller (their role and claims set) whose statement carries
 * the COMMIT — one round trip — and which refuses a second statement, which would otherwise run
 * after that COMMIT, outside the caller's transaction.
 */
import { expect, it } from 'vitest'
import type { Database, QueryOptions } from '../../src/db/types.ts'
import type { Services } from '../../src/services.ts'
import { inOneStatement } from '../../src/storage/access.ts'
import { describeEachDatabase } from '../support/databases.ts'

/** The real database, recording the options each transaction statement is sent with. */
function recording(database: Database): { database: Database; sent: Array<{ sql: string; options: QueryOptions | undefined }> } {
  const sent: Array<{ sql: string; options: QueryOptions | undefined }> = []
  const wrapped: Database = Object.create(database)
  wrapped.transaction = (fn, options) =>
    database.transaction(
      (tx) =>
        fn({
          ...tx,
          query(sql, params, queryOptions) {
            sent.push({ sql, options: queryOptions })
            return tx.query(sql, params, queryOptions)
          },
        } as typeof tx),
      options,
    )
  return { database: wrapped, sent }
}

describeEachDatabase('storage access: inOneStatement', (ctx) => {
  const caller = { role: 'authenticated', claims: { sub: '11111111-1111-1111-1111-111111111111', role: 'authenticated' }, ownerId: '11111111-1111-1111-1111-111111111111' }

  it('runs the lookup as the caller, its statement carrying the COMMIT', async () => {
    const { database, sent } = recording(ctx().database)
    const services = { database: async () => database, config: { statementTimeoutMs: 0 } } as unknown as Services
    const row = await inOneStatement(services, caller, async (tx) => (await tx.query<{ role: string; sub: string }>("SELECT current_user AS role, auth.uid()::text AS sub")).rows[0])
    expect(row).toEqual({ role: 'authenticated', sub: caller.ownerId })
    expect(sent).toHaveLength(1)
    expect(sent[0]!.options?.commit).toBe(true)
    // Nothing of the caller's session outlives it.
    const after = await ctx().database.query<{ role: string }>('SELECT current_user AS role')
    expect(after.rows[0]!.role).not.toBe('authenticated')
  })

  it('refuses a second statement, which would run outside the transaction', async () => {
    const { database, sent } = recording(ctx().database)
    const services = { database: async () => database, config: { statementTimeoutMs: 0 } } as unknown as Services
    await expect(
      inOneStatement(services, caller, async (tx) => {
        await tx.query('SELECT 1')
        await tx.query('SELECT 2')
      }),
    ).rejects.toThrow('inOneStatement: a second statement')
    expect(sent.map((s) => s.sql)).toEqual(['SELECT 1'])
  })
})
