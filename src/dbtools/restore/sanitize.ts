/**
 * Sanitize: decides, statement by statement, whether it runs as written, runs rewritten, or is
 * skipped — over the target's catalog snapshot and what the dump created so far. Each rule is a
 * small function with a name and a reason; every decision is recorded for the summary.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { MetaCommand, Node } from './parse.ts'
import { RestoreError } from './errors.ts'
import { targetsOf, refKey } from './refs.ts'
import { RULES } from './rules.ts'
import type { Current, Note, Planned, SanitizeContext, Stage } from './sanitize-context.ts'
import { key } from './target.ts'

/** Decides one statement. */
export function sanitizeStatement(statement: Current, ctx: SanitizeContext): Planned {
  let current: Current = statement
  const notes: Note[] = []
  const before: string[] = []
  let stage: Stage | undefined
  for (const rule of RULES) {
    const outcome = rule.apply(current, ctx)
    if (!outcome) continue
    if ('skip' in outcome) {
      return { action: 'skip', sql: statement.sql, line: statement.line, type: statement.type, notes: [...notes, { rule: rule.name, reason: outcome.skip }], before: [] }
    }
    notes.push({ rule: rule.name, reason: outcome.reason })
    if ('before' in outcome) before.push(...outcome.before)
    else if ('stage' in outcome) stage = buildStage(current, outcome.stage, ctx)
    else current = { ...current, sql: outcome.sql, node: outcome.node ?? current.node }
  }
  track(current, ctx)
  return { action: 'run', sql: current.sql, line: statement.line, type: statement.type, notes, before, stage }
}

function buildStage(statement: Current, spec: Omit<Stage, 'table' | 'setup' | 'target'>, ctx: SanitizeContext): Stage {
  const [target] = targetsOf(statement.type, statement.node)
  if (!target) throw new RestoreError('unsupported', `line ${statement.line}: cannot stage rows of this statement`, { line: statement.line })
  const table = ctx.nextStageName()
  const columns = ctx.targetColumns(key(target.schema, target.name))
  const present = spec.columns.filter((c) => columns?.has(c) ?? true)
  const absent = spec.columns.filter((c) => !(columns?.has(c) ?? true))
  const setup = [
    `CREATE TEMPORARY TABLE ${ident(table)} AS SELECT ${present.map(ident).join(', ') || 'NULL AS resolution_nothing'} FROM ${qualified(target.schema, target.name)} WITH NO DATA`,
    ...absent.map((c) => `ALTER TABLE pg_temp.${ident(table)} ADD COLUMN ${ident(c)} text`),
  ]
  return { ...spec, table, target: qualified(target.schema, target.name), setup }
}

/** Records what a kept statement creates, so later statements can rely on it. */
function track(statement: Current, ctx: SanitizeContext): void {
  const { type, node } = statement
  const [target] = targetsOf(type, node)
  switch (type) {
    case 'CreateSchemaStmt':
      ctx.created.schemas.add(node.schemaname)
      break
    case 'CreateStmt': {
      ctx.created.relations.add(refKey(target!))
      const generated = new Set<string>()
      for (const element of node.tableElts ?? []) {
        const column = element.ColumnDef
        if (column?.constraints?.some((c: Node) => c.Constraint?.contype === 'CONSTR_GENERATED')) generated.add(column.colname)
      }
      ctx.createdGenerated.set(refKey(target!), generated)
      break
    }
    case 'CreateSeqStmt':
    case 'ViewStmt':
    case 'CreateTableAsStmt':
      ctx.created.relations.add(refKey(target!))
      break
    case 'IndexStmt':
      if (node.idxname) ctx.created.relations.add(key(target!.schema, node.idxname))
      break
    case 'CreateFunctionStmt':
      ctx.created.functions.add(refKey(target!))
      break
    case 'CreateEnumStmt':
    case 'CreateDomainStmt':
    case 'CompositeTypeStmt':
    case 'CreateRangeStmt':
      ctx.created.types.add(refKey(target!))
      break
    case 'CreateRoleStmt':
      ctx.created.roles.add(node.role)
      break
    case 'CreateExtensionStmt':
      ctx.created.extensions.add(node.extname)
      break
    case 'CreatePublicationStmt':
      ctx.created.publications.add(node.pubname)
      break
  }
}

/** psql meta-commands: none reaches the server. */
export function sanitizeMeta(meta: MetaCommand): Note {
  switch (meta.command) {
    case '\\restrict':
    case '\\unrestrict':
      return { rule: 'psql-restrict', reason: 'psql meta-command of pg_dump ≥ 17.6 (CVE-2025-8714); not SQL' }
    case '\\connect':
    case '\\c':
      return { rule: 'database-level', reason: '--create dump: restoring into the connected database instead' }
    case '\\set':
    case '\\unset':
    case '\\echo':
    case '\\encoding':
    case '\\pset':
    case '\\timing':
      return { rule: 'psql-meta', reason: `psql display/setting command ${meta.command}; has no effect on the data` }
    default:
      throw new RestoreError('unsupported', `line ${meta.line}: psql meta-command ${meta.command} is not supported in a restore`, { line: meta.line })
  }
}

