/**
 * `db restore`: parse → sanitize → load, for any `Database` (PostgreSQL 15+ or PGlite). By
 * default every file runs in ONE transaction, so a failure leaves the target exactly as it was
 * and names the file, the line and PostgreSQL's message. COPY data streams from the file to the
 * server; memory does not grow with the file.
 * @module
 */
import { NOTIFY_SCHEMA_RELOAD } from '../../db/schema-reload.ts'
import type { Database, Queryable } from '../../db/types.ts'
import { ident } from '../../db/sql.ts'
import { AclTracker } from './acl.ts'
import { bootstrapStatus } from '../../schema/bootstrap.ts'
import type { ByteReader } from './bytes.ts'
import { replaceRelation } from './edit.ts'
import { DeferredForeignKeys } from './deferred-keys.ts'
import { RestoreError } from './errors.ts'
import { bootstrapInTransaction, roleNames } from './in-transaction.ts'
import { parseDump, parserReady, type DumpItem } from './parse.ts'
import { startProgress, type Progress } from './progress.ts'
import { targetsOf } from './refs.ts'
import { excerpt } from './excerpt.ts'
import { addRows, newSummary, type Decision, type RestoreSummary } from './report.ts'
import { SanitizeContext, type Planned } from './sanitize-context.ts'
import { sanitizeMeta, sanitizeStatement } from './sanitize.ts'
import { screenAfter, screenBefore, UnsafeDumpError } from './safety.ts'
import { spoolOnce, type Spooled } from './spool.ts'
import { readTargetFacts } from './target.ts'
import { fileSource, type RestoreSource } from './source.ts'


export interface RestoreOptions {
  dryRun?: boolean
  /** false: each statement commits on its own (`--no-transaction`). */
  transaction?: boolean
  /** Bootstrap the target first (roles, auth, vault); default true (never on a dry run). */
  bootstrap?: boolean
  /** Where the progress bar goes; only drawn when it is a TTY. */
  progressStream?: NodeJS.WriteStream
  /** Called for every skip and rewrite as it is decided. */
  onDecision?: (decision: Decision) => void
  /** Run the statements the safety check refuses (COPY … PROGRAM, DO blocks, SUPERUSER roles …; see safety.ts). */
  allowUnsafe?: boolean
}


export async function restore(database: Database, inputs: (string | RestoreSource)[], options: RestoreOptions = {}): Promise<RestoreSummary> {
  let sources = inputs.map((input) => (typeof input === 'string' ? fileSource(input) : input))
  const transaction = options.transaction !== false
  const summary = newSummary(sources.map((s) => s.name), Boolean(options.dryRun), transaction)
  const started = performance.now()
  const progress = startProgress(options.progressStream, sources.reduce((sum, s) => sum + (s.size ?? 0), 0))
  // The parser's WASM loads while the target is bootstrapped and read.
  const parser = parserReady()
  let cleanup: Spooled[] = []
  try {
    if (options.dryRun) {
      if ((await bootstrapStatus(database)) === null) summary.warnings.push('the target is not bootstrapped; a real restore bootstraps it first (roles, auth, vault), so fewer statements would be skipped for missing roles')
      const ctx = new SanitizeContext(await readTargetFacts(database), { transaction })
      const acl = new AclTracker()
      await parser
      for (const source of sources) await runFile(undefined, source, ctx, summary, options, progress, acl)
      recordAclFinish(summary, sources, await acl.finish(database, ctx))
    } else {
      const rolesBefore = await roleNames(database)
      try {
        await database.transaction(async (tx) => {
          // In the same transaction as the load: a failure (or a refusal) rolls the bootstrap back too.
          if (options.bootstrap !== false) await bootstrapInTransaction(database, tx)
          // Every file is read once before anything runs: a refused dump changes nothing, also
          // with --no-transaction (the first COMMIT comes only after this check).
          if (!options.allowUnsafe) {
            cleanup = await refuseUnsafe(tx, sources, transaction, parser)
            sources = cleanup.map((s) => s.source)
          }
          const ctx = new SanitizeContext(await readTargetFacts(tx), { transaction })
          const acl = new AclTracker()
          // Across per-statement commits a deferred check would fire at each COMMIT anyway.
          const keys = transaction ? new DeferredForeignKeys(tx) : undefined
          await parser
          for (const source of sources) {
            await runFile(tx, source, ctx, summary, options, progress, acl, keys)
            // Session state (search_path '' of a preamble …) must not leak into the next file.
            await tx.exec('RESET ALL')
            if (!transaction) await tx.exec('COMMIT; BEGIN')
          }
          await keys?.check(`${sources.at(-1)?.name ?? 'restore'}: at the end of the restore`)
          const revokes = await acl.finish(tx, ctx)
          for (const sql of revokes) await tx.exec(sql)
          recordAclFinish(summary, sources, revokes)
          await tx.exec(NOTIFY_SCHEMA_RELOAD)
        })
      } catch (error) {
        throw await withRolesLeft(error, database, rolesBefore, transaction)
      }
    }
  } finally {
    progress.stop()
    for (const s of cleanup) s.remove()
  }
  summary.durationMs = Math.round(performance.now() - started)
  return summary
}

/** A dry pass over every file with the safety check; throws UnsafeDumpError listing all it refuses. */
async function refuseUnsafe(database: Queryable, sources: RestoreSource[], transaction: boolean, parser: Promise<void>): Promise<Spooled[]> {
  const spooled = await Promise.all(sources.map(spoolOnce))
  const check = newSummary(spooled.map((s) => s.source.name), true, transaction)
  try {
    const ctx = new SanitizeContext(await readTargetFacts(database), { transaction })
    await parser
    for (const { source } of spooled) await runFile(undefined, source, ctx, check, {}, startProgress(undefined, 0))
  } catch (error) {
    for (const s of spooled) s.remove()
    throw error
  }
  if (check.unsafe.length) {
    for (const s of spooled) s.remove()
    throw new UnsafeDumpError(check.unsafe)
  }
  return spooled
}

/** The end-of-restore revokes of acl.ts, as decisions of the last file. */
function recordAclFinish(summary: RestoreSummary, sources: RestoreSource[], revokes: string[]): void {
  for (const sql of revokes) {
    summary.decisions.push({ rule: 'acl-baseline', reason: "no GRANT/REVOKE in the dump: the object gets PostgreSQL's default ACL, as in the source (the target's default privileges revoked)", action: 'rewrite', file: sources.at(-1)?.name ?? '', line: 0, excerpt: excerpt(sql) })
  }
}

async function runFile(tx: Queryable | undefined, source: RestoreSource, ctx: SanitizeContext, summary: RestoreSummary, options: RestoreOptions, progress: Progress, acl = new AclTracker(), keys?: DeferredForeignKeys): Promise<void> {
  const readers: ByteReader[] = []
  progress.file(source.name, readers)
  const record = (planned: Planned | { action: 'skip'; line: number; sql: string; notes: { rule: string; reason: string }[] }) => {
    const action = planned.action === 'skip' ? 'skip' : 'rewrite'
    if (planned.action !== 'skip' && planned.notes.length === 0) return
    for (const note of planned.action === 'skip' ? planned.notes.slice(-1) : planned.notes) {
      const decision: Decision = { ...note, action, file: source.name, line: planned.line, excerpt: excerpt(planned.sql) }
      summary.decisions.push(decision)
      options.onDecision?.(decision)
    }
  }

  for await (const item of parseDump(source.open(), source.name, {}, readers)) {
    if (item.kind === 'meta') {
      let note
      try {
        note = sanitizeMeta(item)
      } catch (error) {
        throw withFile(error, source.name)
      }
      record({ action: 'skip', line: item.line, sql: `${item.command} ${item.args}`, notes: [note] })
      if ((item.command === '\\connect' || item.command === '\\c') && summary.decisions.filter((d) => d.excerpt.startsWith(item.command)).length === 2) {
        summary.warnings.push(`${source.name} connects to more than one database (a pg_dumpall file?); everything was restored into the connected database`)
      }
      continue
    }
    const statement = { type: item.type, node: item.node, sql: item.sql, line: item.line }
    // Safety first for what must be judged as written; then the sanitizer; then safety again for
    // what it would still run (its skips of Supabase's own objects stand).
    const early = screenBefore(statement, ctx)
    const planned: Planned = early?.skip
      ? { action: 'skip', sql: item.sql, line: item.line, type: item.type, notes: [early.skip], before: [] }
      : early?.finding
        ? { action: 'run', sql: item.sql, line: item.line, type: item.type, notes: [], before: [] }
        : sanitizeStatement(statement, ctx)
    const unsafe = early?.finding ?? (planned.action === 'run' ? screenAfter(statement, ctx)?.finding : undefined)
    if (!unsafe || options.allowUnsafe) acl.plan(statement, planned, ctx)
    record(planned)
    if (unsafe) {
      const found = { ...unsafe, file: source.name, allowed: Boolean(options.allowUnsafe) }
      summary.unsafe.push(found)
      if (!options.allowUnsafe) {
        // Checked before the run too: here only if the file changed since (then nothing commits).
        if (tx) throw new UnsafeDumpError([found])
        if (item.kind === 'copy') for await (const _ of item.data) void _
        continue
      }
    }
    if (planned.action === 'skip') {
      if (item.kind === 'copy') {
        // Read past the data here, to say how many rows a skipped block carried.
        for await (const _ of item.data) void _
        if (item.stats.lines > 0) summary.warnings.push(`${source.name}:${item.line}: ${item.stats.lines} rows of ${tableOf(item)} not restored (${planned.notes.at(-1)!.reason})`)
      } else if (item.type === 'InsertStmt') {
        const rows = item.valuesRows ?? item.node.selectStmt?.SelectStmt?.valuesLists?.length ?? 0
        if (rows > 0) summary.warnings.push(`${source.name}:${item.line}: ${rows} rows of ${tableOf(item)} not restored (${planned.notes.at(-1)!.reason})`)
      }
      continue
    }
    summary.statementsRun += 1
    progress.tick(summary)
    if (!tx) {
      // Dry run: count what would load.
      if (item.kind === 'copy') {
        for await (const _ of item.data) void _
        addRows(summary, tableOf(item), item.stats.lines)
      } else if (item.type === 'InsertStmt') addRows(summary, tableOf(item), item.valuesRows ?? item.node.selectStmt?.SelectStmt?.valuesLists?.length ?? 0)
      continue
    }
    if (keys) await deferKeys(keys, item, source.name)
    if (item.kind === 'copy') progress.copying(item.stats)
    await execute(tx, item, planned, source.name, summary)
    progress.copying(undefined)
    if (!ctx.options.transaction) await tx.exec('COMMIT; BEGIN')
  }
}

/** Rows: their table's foreign keys are deferred. DDL: the checks so far run first. */
async function deferKeys(keys: DeferredForeignKeys, item: DumpItem & { kind: 'statement' | 'copy' }, file: string): Promise<void> {
  if (item.kind === 'copy' || item.type === 'InsertStmt') {
    const [target] = targetsOf(item.type, item.node)
    if (target) await keys.beforeRows(target.schema, target.name)
  } else if (!ROW_OR_SESSION.has(item.type)) await keys.beforeDdl(`${file}:${item.line}: before this statement`)
}

/** Statements that neither change a table's definition nor conflict with pending checks. */
const ROW_OR_SESSION = new Set(['SelectStmt', 'VariableSetStmt', 'VariableShowStmt', 'UpdateStmt', 'DeleteStmt', 'NotifyStmt', 'CommentStmt', 'GrantStmt', 'GrantRoleStmt', 'AlterDefaultPrivilegesStmt', 'CreateRoleStmt', 'AlterRoleStmt', 'AlterRoleSetStmt', 'CreateSchemaStmt', 'CreateFunctionStmt', 'CreateSeqStmt', 'AlterSeqStmt', 'CreatePolicyStmt', 'TransactionStmt'])

/**
 * A failed restore rolled everything back, the bootstrap of a fresh target included; roles are
 * cluster-wide, so the report says which ones (if any) stay.
 */
async function withRolesLeft(error: unknown, database: Database, before: Set<string>, transaction: boolean): Promise<unknown> {
  if (!(error instanceof RestoreError)) return error
  let left: string[]
  try {
    left = [...(await roleNames(database))].filter((r) => !before.has(r)).sort()
  } catch {
    return error
  }
  const note = transaction
    ? left.length
      ? `The target was rolled back to how it was, except these roles, which are cluster-wide and stay: ${left.join(', ')}.`
      : 'The target was rolled back to how it was (the bootstrap of a fresh target too); no roles were left behind.'
    : left.length
      ? `Roles created by this restore that stay: ${left.join(', ')}.`
      : ''
  // In place, so the error keeps its class (UnsafeDumpError carries its findings).
  if (note) error.message = `${error.message}\n${note}`
  return error
}

function tableOf(item: DumpItem & { kind: 'statement' | 'copy' }): string {
  const [target] = targetsOf(item.type, item.node)
  return target ? `${target.schema}.${target.name}` : '?'
}

async function execute(tx: Queryable, item: DumpItem & { kind: 'statement' | 'copy' }, planned: Planned, file: string, summary: RestoreSummary): Promise<void> {
  const run = async <T>(sql: string, fn: () => Promise<T>, dataLine?: number): Promise<T> => {
    try {
      return await fn()
    } catch (error) {
      throw statementError(error, file, planned.line, sql, dataLine)
    }
  }
  for (const sql of planned.before) await run(sql, () => tx.exec(sql))

  const stage = planned.stage
  let sql = planned.sql
  if (stage) {
    for (const setup of stage.setup) await run(setup, () => tx.exec(setup))
    sql = replaceRelation(sql, `pg_temp.${ident(stage.table)}`)
  }

  let rows = 0
  if (item.kind === 'copy') {
    const data = await nonEmpty(item.data)
    const dataLine = item.line + item.sql.split('\n').length
    if (data) rows = await run(sql, () => tx.copyFrom(sql, data), dataLine)
  } else if (item.type === 'InsertStmt') {
    rows = (await run(sql, () => tx.query(sql))).rowCount
  } else {
    await run(sql, () => tx.exec(sql))
  }

  if (stage) {
    const cols = stage.keep.map(ident).join(', ')
    const move = `INSERT INTO ${stage.target} (${cols}) SELECT ${cols} FROM pg_temp.${ident(stage.table)}${stage.onConflictDoNothing ? ' ON CONFLICT DO NOTHING' : ''}`
    rows = rows === 0 ? 0 : (await run(move, () => tx.query(move))).rowCount
    const drop = `DROP TABLE pg_temp.${ident(stage.table)}`
    await run(drop, () => tx.exec(drop))
  }
  if (item.kind === 'copy' || item.type === 'InsertStmt') {
    const table = tableOf(item)
    addRows(summary, table, rows)
    if (table === 'vault.secrets' && rows > 0 && !summary.warnings.some((w) => w.startsWith('vault.secrets'))) {
      summary.warnings.push('vault.secrets rows were loaded as dumped: Vault 0.3 rows decrypt with the same root key (VAULT_ROOT_KEY); Vault 0.2.x rows (key_id set) also need the pgsodium keys of the source and must be re-encrypted')
    }
  }
}

/** The COPY data, or undefined when the block is empty (then no COPY is sent at all). */
async function nonEmpty(data: AsyncIterable<Buffer>): Promise<AsyncIterable<Buffer> | undefined> {
  const iterator = data[Symbol.asyncIterator]()
  const first = await iterator.next()
  if (first.done) return undefined
  return (async function* () {
    yield first.value
    for (;;) {
      const next = await iterator.next()
      if (next.done) return
      yield next.value
    }
  })()
}

interface PgError {
  code?: string
  message: string
  detail?: string
  hint?: string
  where?: string
  position?: string
}

function statementError(error: unknown, file: string, line: number, sql: string, dataLine?: number): Error {
  if (error instanceof RestoreError) return error
  const pg = error as PgError
  if (!pg.code) return error as Error
  let at = line
  const copyLine = /COPY [^,]+, line (\d+)/.exec(pg.where ?? '')
  if (copyLine && dataLine !== undefined) at = dataLine + Number(copyLine[1]) - 1
  else if (pg.position) at = line + sql.slice(0, Number(pg.position) - 1).split('\n').length - 1
  const parts = [`${file}:${at}: ${pg.message} (SQLSTATE ${pg.code})`]
  if (pg.detail) parts.push(`DETAIL: ${pg.detail}`)
  if (pg.hint) parts.push(`HINT: ${pg.hint}`)
  if (pg.where && !copyLine) parts.push(`CONTEXT: ${pg.where.split('\n')[0]}`)
  if (copyLine) parts.push(`CONTEXT: ${pg.where}`)
  parts.push(`statement (line ${line}): ${excerpt(sql, 160)}`)
  return new RestoreError('statement_failed', parts.join('\n'), { line: at, statement: sql, sqlState: pg.code, cause: error })
}

function withFile(error: unknown, file: string): unknown {
  if (error instanceof RestoreError && !error.message.startsWith(file)) {
    return new RestoreError(error.code, `${file}:${error.line ?? '?'}: ${error.message.replace(/^line \d+: /, '')}`, { line: error.line })
  }
  return error
}

