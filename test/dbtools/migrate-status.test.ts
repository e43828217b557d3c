import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { expect, it } from 'vitest'
import { listMigrationFiles, migrate, MigrateError, migrationStatus } from '../../src/dbtools/migrate.ts'
import { databaseStatus, formatStatus } from '../../src/dbtools/status.ts'
import { describeEachDatabase } from '../support/databases.ts'

function migrationsDir(files: Record<string, string>): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-migrations-'))
  for (const [name, content] of Object.entries(files)) fs.writeFileSync(path.join(dir, name), content)
  return dir
}

describeEachDatabase('db migrate and db status', (ctx) => {
  const dir = migrationsDir({
    '20240101000000_create_notes.sql': "CREATE TABLE public.notes (id serial PRIMARY KEY, body text);\n-- a comment; with a semicolon\nINSERT INTO public.notes (body) VALUES ('first;note');\n",
    '20240102000000_add_column.sql': 'ALTER TABLE public.notes ADD COLUMN done boolean NOT NULL DEFAULT false;\n',
    'README.md': 'not a migration',
    'seed.sql': 'not a migration either',
  })

  it('applies pending files in order, once each, recorded as the Supabase CLI records them', async () => {
    const db = ctx().database
    const first = await migrate(db, dir)
    expect(first.applied.map((f) => f.version)).toEqual(['20240101000000', '20240102000000'])
    const { rows } = await db.query<{ version: string; name: string; statements: string[] }>('SELECT version, name, statements FROM supabase_migrations.schema_migrations ORDER BY version')
    expect(rows).toEqual([
      { version: '20240101000000', name: 'create_notes', statements: ['CREATE TABLE public.notes (id serial PRIMARY KEY, body text)', "INSERT INTO public.notes (body) VALUES ('first;note')"] },
      { version: '20240102000000', name: 'add_column', statements: ['ALTER TABLE public.notes ADD COLUMN done boolean NOT NULL DEFAULT false'] },
    ])
    const again = await migrate(db, dir)
    expect(again).toEqual({ applied: [], alreadyApplied: 2 })
    const { rows: notes } = await db.query('SELECT body, done FROM public.notes')
    expect(notes).toEqual([{ body: 'first;note', done: false }])
  })

  it('a failing migration is rolled back whole, not recorded, and names its file and line', async () => {
    const db = ctx().database
    fs.writeFileSync(path.join(dir, '20240103000000_broken.sql'), "INSERT INTO public.notes (body) VALUES ('half');\nALTER TABLE public.nope ADD COLUMN x int;\n")
    const error = await migrate(db, dir).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(MigrateError)
    expect((error as Error).message).toMatch(/20240103000000_broken\.sql:2: relation "public\.nope" does not exist/)
    const { rows } = await db.query<{ n: string }>("SELECT count(*) AS n FROM public.notes WHERE body = 'half'")
    expect(Number(rows[0]!.n)).toBe(0)
    const statuses = await migrationStatus(db, dir)
    expect(statuses.map((s) => `${s.version} ${s.state}`)).toEqual(['20240101000000 applied', '20240102000000 applied', '20240103000000 pending'])
    fs.rmSync(path.join(dir, '20240103000000_broken.sql'))
  })

  it('--status lists applied versions whose file is gone', async () => {
    const other = migrationsDir({ '20240102000000_add_column.sql': 'SELECT 1;' })
    const statuses = await migrationStatus(ctx().database, other)
    expect(statuses).toEqual([
      { version: '20240101000000', name: 'create_notes', state: 'applied, file missing' },
      { version: '20240102000000', name: 'add_column', state: 'applied' },
    ])
  })

  it('a missing directory and duplicate versions are clear errors', async () => {
    expect(() => listMigrationFiles('/nonexistent/migrations')).toThrow(/migrations directory \/nonexistent\/migrations does not exist/)
    const dup = migrationsDir({ '1_a.sql': '', '1_b.sql': '' })
    expect(() => listMigrationFiles(dup)).toThrow(/two migration files have version 1/)
  })

  it('db status: server, bootstrap version, migrations, schemas with tables and rows', async () => {
    const status = await databaseStatus(ctx().database)
    expect(status.serverVersion).toMatch(/^1[5-9]/)
    expect(status.bootstrapVersion).toBe(status.bootstrapCurrent)
    expect(status.migrations).toEqual({ count: 2, latest: { version: '20240102000000', name: 'add_column' } })
    const publicSchema = status.schemas.find((s) => s.schema === 'public')!
    expect(publicSchema.tables).toBe(1)
    expect(status.schemas.find((s) => s.schema === 'auth')!.tables).toBeGreaterThan(5)
    const text = formatStatus(status)
    expect(text).toContain('Migrations: 2 applied, latest 20240102000000_add_column')
    expect(text).toMatch(/public\s+1\s+\d+/)
  })
})
