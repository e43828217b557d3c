/**
 * Foreign keys checked at the end of the load, not row by row. The bootstrap pre-creates the
 * auth/storage tables with their foreign keys, and a dump's data arrives in name order
 * (`auth.identities` before `auth.users`), so immediate checks refuse a valid dump. Before the
 * first rows go into a table, its NOT DEFERRABLE foreign keys become DEFERRABLE INITIALLY DEFERRED;
 * `check()` fires every deferred check (SET CONSTRAINTS … IMMEDIATE) and puts the original
 * deferrability back, all inside the restore's one transaction. Nothing is skipped: every row is
 * checked, and a ROLLBACK undoes the ALTERs too. Works for non-superusers (only table ownership is
 * needed, unlike session_replication_role) on PostgreSQL 15+ and PGlite.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { Queryable } from '../../db/types.ts'
import { RestoreError } from './errors.ts'

interface AlteredKey {
  oid: number
  schema: string
  table: string
  name: string
}

export class DeferredForeignKeys {
  private readonly altered = new Map<number, AlteredKey>()
  private readonly seen = new Set<string>()
  /** Rows went into a table with deferred keys since the last check. */
  private pending = false

  constructor(private readonly tx: Queryable) {}

  /** Before rows go into `schema.table`: defer its foreign keys (once per table). */
  async beforeRows(schema: string, table: string): Promise<void> {
    const k = `${schema}.${table}`
    if (this.seen.has(k)) {
      if (this.altered.size) this.pending = true
      return
    }
    this.seen.add(k)
    // Only keys the connecting role may alter (it owns the table); others stay immediate.
    const { rows } = await this.tx.query<AlteredKey>(
      `SELECT k.oid::int AS oid, n.nspname AS schema, c.relname AS table, k.conname AS name
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE k.contype = 'f' AND NOT k.condeferrable AND c.oid = to_regclass($1) AND pg_catalog.pg_has_role(c.relowner, 'USAGE')`,
      [qualified(schema, table)],
    )
    for (const key of rows) {
      await this.tx.exec(`ALTER TABLE ${qualified(key.schema, key.table)} ALTER CONSTRAINT ${ident(key.name)} DEFERRABLE INITIALLY DEFERRED`)
      this.altered.set(key.oid, key)
    }
    if (rows.length) await this.tx.exec(`SET CONSTRAINTS ${rows.map((r) => qualified(r.schema, r.name)).join(', ')} DEFERRED`)
    if (this.altered.size) this.pending = true
  }

  /**
   * Before a DDL statement: PostgreSQL refuses ALTER TABLE / CREATE INDEX on a table with pending
   * checks, so the checks made so far run now (a full pg_dump dump has loaded all data by then).
   */
  async beforeDdl(where: string): Promise<void> {
    if (!this.pending) return
    await this.fire(where)
    await this.tx.exec(`SET CONSTRAINTS ${this.names()} DEFERRED`)
  }

  /** At the end of the load: every deferred check runs, then the keys are NOT DEFERRABLE again. */
  async check(where: string): Promise<number> {
    if (this.altered.size === 0) return 0
    await this.fire(where)
    // A key the dump dropped meanwhile has nothing to restore.
    const { rows } = await this.tx.query<AlteredKey>(
      `SELECT k.oid::int AS oid, n.nspname AS schema, c.relname AS table, k.conname AS name
         FROM pg_catalog.pg_constraint k JOIN pg_catalog.pg_class c ON c.oid = k.conrelid JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
        WHERE k.oid = ANY($1::oid[])`,
      [[...this.altered.keys()]],
    )
    for (const key of rows) await this.tx.exec(`ALTER TABLE ${qualified(key.schema, key.table)} ALTER CONSTRAINT ${ident(key.name)} NOT DEFERRABLE`)
    return rows.length
  }

  private names(): string {
    return [...this.altered.values()].map((k) => qualified(k.schema, k.name)).join(', ')
  }

  private async fire(where: string): Promise<void> {
    this.pending = false
    try {
      await this.tx.exec(`SET CONSTRAINTS ${this.names()} IMMEDIATE`)
    } catch (error) {
      const pg = error as { code?: string; message: string; detail?: string; table?: string; constraint?: string }
      if (!pg.code) throw error
      const parts = [`${where}: foreign key check failed: ${pg.message} (SQLSTATE ${pg.code})`]
      if (pg.detail) parts.push(`DETAIL: ${pg.detail}`)
      parts.push('Foreign keys of tables that receive rows are checked once all rows are loaded (the dump may load a table before the one it references).')
      throw new RestoreError('foreign_key_violation', parts.join('\n'), { sqlState: pg.code, cause: error })
    }
  }
}
