import { Readable } from 'node:stream'
import { expect, it } from 'vitest'
import { sessionSettings, withSession } from '../../src/db/session.ts'
import { describeEachDatabase } from '../support/databases.ts'

describeEachDatabase('database drivers', (ctx) => {
  it('runs parameterised queries and returns the same value shapes on both drivers', async () => {
    const { rows } = await ctx().database.query<{ n: string; t: string; j: unknown; s: string }>(
      `SELECT $1::bigint AS n, '2024-01-06 12:00:00+00'::timestamptz AS t, '{"a":1}'::jsonb AS j, $2::text AS s`,
      ['9007199254740993', "it's"],
    )
    expect(rows[0]).toEqual({ n: '9007199254740993', t: '2024-01-06 12:00:00+00', j: { a: 1 }, s: "it's" })
  })

  it('commits, and rolls back when the function throws', async () => {
    const { database } = ctx()
    await database.exec('CREATE TABLE drv_t (id int primary key, v text)')
    await database.transaction(async (tx) => {
      await tx.query('INSERT INTO drv_t VALUES ($1, $2)', [1, 'kept'])
    })
    await expect(
      database.transaction(async (tx) => {
        await tx.query('INSERT INTO drv_t VALUES ($1, $2)', [2, 'lost'])
        throw new Error('boom')
      }),
    ).rejects.toThrow('boom')
    const { rows } = await database.query('SELECT id FROM drv_t ORDER BY id')
    expect(rows).toEqual([{ id: 1 }])
  })

  it('refuses writes in a read-only transaction', async () => {
    await expect(ctx().database.transaction((tx) => tx.query('CREATE TABLE drv_ro (x int)'), { readOnly: true })).rejects.toMatchObject({ code: '25006' })
  })

  it('refuses writes in a read-only transaction of one statement that commits with it, and keeps its settings inside it', async () => {
    const { database } = ctx()
    const prelude = { sql: "SELECT FROM (SELECT set_config('drv.seen', $1, true)) AS s", params: ['yes'] }
    await expect(database.transaction((tx) => tx.query('CREATE TABLE drv_ro1 (x int)', [], { commit: true }), { readOnly: true, prelude })).rejects.toMatchObject({ code: '25006' })
    await expect(database.transaction((tx) => tx.query('SELECT * FROM drv_ro1', [], { commit: true }), { readOnly: true })).rejects.toMatchObject({ code: '42P01' })
    const seen = await database.transaction((tx) => tx.query<{ seen: string; ro: string }>("SELECT current_setting('drv.seen') AS seen, current_setting('transaction_read_only') AS ro", [], { commit: true }), { readOnly: true, prelude })
    expect(seen.rows).toEqual([{ seen: 'yes', ro: 'on' }])
    const after = await database.query<{ seen: string; ro: string }>("SELECT coalesce(current_setting('drv.seen', true), '') AS seen, current_setting('transaction_read_only') AS ro")
    expect(after.rows).toEqual([{ seen: '', ro: 'off' }])
  })

  it('loads COPY text data from a stream, in chunks', async () => {
    const { database } = ctx()
    await database.exec('CREATE TABLE drv_copy (id int, label text, note text)')
    const lines = Array.from({ length: 5000 }, (_, i) => `${i}\trow ${i}\t${i % 2 ? '\\N' : 'tab\\there'}\n`)
    const rows = await database.copyFrom('COPY drv_copy (id, label, note) FROM STDIN', Readable.from(lines))
    expect(rows).toBe(5000)
    const { rows: check } = await database.query<{ c: string; nulls: string; sample: string }>(
      `SELECT count(*) AS c, count(*) FILTER (WHERE note IS NULL) AS nulls, max(note) AS sample FROM drv_copy`,
    )
    expect(check[0]).toEqual({ c: '5000', nulls: '2500', sample: 'tab\there' })
  })

  it('never interleaves concurrent transactions', async () => {
    const { database } = ctx()
    await database.exec('CREATE TABLE drv_seq (tx int, step int, at serial)')
    await Promise.all(
      Array.from({ length: 6 }, (_, tx) =>
        database.transaction(async (q) => {
          for (let step = 0; step < 3; step++) {
            await q.query('INSERT INTO drv_seq (tx, step) VALUES ($1, $2)', [tx, step])
            await new Promise((resolve) => setImmediate(resolve))
          }
        }, { isolation: 'serializable' }),
      ),
    )
    const { rows } = await database.query<{ tx: number; step: number }>('SELECT tx, step FROM drv_seq ORDER BY at')
    expect(rows).toHaveLength(18)
    if (ctx().target === 'pglite') {
      // One session: each transaction's three steps are contiguous.
      for (let i = 0; i < rows.length; i += 3) expect(new Set(rows.slice(i, i + 3).map((r) => r.tx)).size).toBe(1)
    }
  })
})

describeEachDatabase('request session', (ctx) => {
  it('sets role and claims for the transaction only', async () => {
    const { database } = ctx()
    const claims = { sub: '6a7b1c2d-0000-4000-8000-000000000001', role: 'authenticated', email: 'a@example.com' }
    const inside = await withSession(database, { role: 'authenticated', claims, settings: { 'request.method': 'GET' } }, async (tx) => {
      const { rows } = await tx.query<Record<string, string>>(
        `SELECT current_user AS role, current_setting('request.jwt.claims', true) AS claims,
                current_setting('request.jwt.claim.sub', true) AS sub, current_setting('request.jwt.claim.email', true) AS email,
                current_setting('request.method', true) AS method, auth.uid()::text AS uid`,
      )
      return rows[0]
    })
    expect(inside).toEqual({ role: 'authenticated', claims: JSON.stringify(claims), sub: claims.sub, email: claims.email, method: 'GET', uid: claims.sub })
    // Nothing is left on the connection afterwards (transaction poolers must work).
    const { rows } = await database.query<Record<string, string | null>>(
      `SELECT current_user AS role, coalesce(current_setting('request.jwt.claims', true), '') AS claims`,
    )
    expect(rows[0]!.role).not.toBe('authenticated')
    expect(rows[0]!.claims).toBe('')
  })

  it('sets every setting with a statement that sends none of the values back', async () => {
    const { database } = ctx()
    const settings = sessionSettings({ role: 'authenticated', claims: { sub: 'u1', role: 'authenticated' }, statementTimeoutMs: 1234, settings: { 'request.headers': JSON.stringify({ 'x-big': 'v'.repeat(2000) }) } })
    const { answer, seen } = await database.transaction(async (tx) => {
      const answer = await tx.query(settings.sql, settings.params)
      const { rows } = await tx.query<Record<string, string>>(
        `SELECT current_user AS role, current_setting('request.jwt.claim.sub') AS sub, current_setting('statement_timeout') AS timeout, length(current_setting('request.headers')) AS headers`,
      )
      return { answer, seen: rows[0] }
    })
    expect({ rows: answer.rows, fields: answer.fields }).toEqual({ rows: [{}], fields: [] })
    expect(seen).toEqual({ role: 'authenticated', sub: 'u1', timeout: '1234ms', headers: 2012 })
  })

  it('rolls back when asked, and returns the value', async () => {
    const { database } = ctx()
    await database.exec('CREATE TABLE sess_rb (x int)')
    const value = await withSession(database, {}, async (tx) => {
      await tx.query('INSERT INTO sess_rb VALUES (1)')
      tx.markRollback()
      return 'done'
    })
    expect(value).toBe('done')
    expect((await database.query('SELECT * FROM sess_rb')).rows).toEqual([])
  })

  it('keeps concurrent sessions apart', async () => {
    const { database } = ctx()
    const seen = await Promise.all(
      ['a', 'b', 'c', 'd'].map((sub) =>
        withSession(database, { role: 'authenticated', claims: { sub, role: 'authenticated' } }, async (tx) => {
          await new Promise((resolve) => setTimeout(resolve, 5))
          const { rows } = await tx.query<{ sub: string }>(`SELECT current_setting('request.jwt.claim.sub', true) AS sub`)
          return rows[0]!.sub
        }),
      ),
    )
    expect(seen).toEqual(['a', 'b', 'c', 'd'])
  })
})
