/**
 * What `db status` and `db migrate` say that is easy to miss: the engine version differing from the
 * embedded one, the schema watch, a database without the bootstrap, migrations out of order and
 * files that are not migrations.
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { createPgliteDatabase } from '../../src/db/pglite-driver.ts'
import { EMBEDDED_MAJOR, engineMismatch } from '../../src/dbtools/engine-version.ts'
import { migrate, MigrateError } from '../../src/dbtools/migrate.ts'
import { databaseStatus, formatStatus } from '../../src/dbtools/status.ts'
import { describeEachDatabase } from '../support/databases.ts'

function migrationsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-migrations-'))
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content)
  return dir
}

it('EMBEDDED_MAJOR is the major version of the bundled PGlite', async () => {
  const database = await createPgliteDatabase()
  try {
    expect(Math.floor((await database.serverVersionNum()) / 10000)).toBe(EMBEDDED_MAJOR)
  } finally {
    await database.close()
  }
  expect(engineMismatch(EMBEDDED_MAJOR * 10000 + 3)).toBeUndefined()
  expect(engineMismatch(150013)).toMatch(/^this server runs PostgreSQL 15, the embedded database .* runs 18/)
})

describeEachDatabase('db status warnings', (ctx) => {
  it('reports the schema watch, and warns when a server runs another major than the embedded engine', async () => {
    const database = ctx().database
    const status = await databaseStatus(database)
    expect(status.schemaWatch).toBe(true)
    const major = Math.floor((await database.serverVersionNum()) / 10000)
    if (database.kind === 'pg' && major !== EMBEDDED_MAJOR) {
      expect(status.warnings).toEqual([engineMismatch(major * 10000)])
      expect(formatStatus(status)).toContain(`warning: this server runs PostgreSQL ${major}, the embedded database`)
    } else {
      expect(status.warnings).toEqual([])
    }
    expect(formatStatus(status)).toContain('Schema watch: on')
  })

  it('says when the schema watch is off', async () => {
    const database = ctx().database
    await database.exec('ALTER EVENT TRIGGER pgrst_ddl_watch DISABLE')
    try {
      const status = await databaseStatus(database)
      expect(status.schemaWatch).toBe(false)
      expect(status.warnings.at(-1)).toMatch(/^schema watch not installed .* NOTIFY pgrst, 'reload schema'$/)
    } finally {
      await database.exec('ALTER EVENT TRIGGER pgrst_ddl_watch ENABLE')
    }
  })

  it('db migrate warns about files that do not match the pattern and versions older than the newest applied', async () => {
    const database = ctx().database
    const dir = migrationsDir({ '20240105000000_late.sql': 'CREATE TABLE public.late (id int);\n' })
    const first: string[] = []
    await migrate(database, dir, { onWarning: (w) => first.push(w) })
    expect(first).toEqual([])
    fs.writeFileSync(path.join(dir, '20240101000000_early.sql'), 'CREATE TABLE public.early (id int);\n')
    fs.writeFileSync(path.join(dir, '2024-01-02_create_things.sql'), 'CREATE TABLE public.never (id int);\n')
    fs.writeFileSync(path.join(dir, 'seed.sql'), 'SELECT 1;\n')
    const warnings: string[] = []
    const result = await migrate(database, dir, { onWarning: (w) => warnings.push(w) })
    expect(warnings.sort()).toEqual([
      '20240101000000_early.sql is older than the newest applied migration 20240105000000; it is applied out of order',
      'skipping 2024-01-02_create_things.sql: the name does not match <timestamp>_name.sql',
      'skipping seed.sql: the name does not match <timestamp>_name.sql',
    ])
    // Warned, not refused: the old one is applied, the misnamed ones are not.
    expect(result.applied.map((f) => f.version)).toEqual(['20240101000000'])
    const { rows } = await database.query("SELECT to_regclass('public.never') AS never")
    expect(rows).toEqual([{ never: null }])
  })
})

describeEachDatabase('db migrate on a database without the bootstrap', (ctx) => {
  it('refuses with not_bootstrapped, says to run db init, and changes nothing', async () => {
    const dir = migrationsDir({ '20240101000000_a.sql': 'CREATE TABLE public.a (id int);\n' })
    const error = await migrate(ctx().database, dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MigrateError)
    expect((error as MigrateError).code).toBe('not_bootstrapped')
    expect((error as Error).message).toMatch(/is not bootstrapped .*: run `resolution db init` first$/)
    const { rows } = await ctx().database.query("SELECT to_regnamespace('supabase_migrations') AS history, to_regclass('public.a') AS a")
    expect(rows).toEqual([{ history: null, a: null }])
  })
}, { bootstrapped: false })
