/**
 * Sanitize: decides, statement by statement, whether it runs as written, runs rewritten, or is
 * skipped — over the target's catalog snapshot and what the dump created so far. Each rule is a
 * small function with a name and a reason; every decision is recorded for the summary.
 * @module
 */
import { ident, qualified } from '../../db/sql.ts'
import type { MetaCommand, Node } from './parse.ts'
import { RestoreError } from './errors.ts'
import { targetsOf, type ObjectRef, refKey } from './refs.ts'
import { RULES } from './rules.ts'
import { key, type TargetFacts } from './target.ts'

export interface Note {
  rule: string
  reason: string
}

/** Loads INSERT/COPY rows through a temporary table, then into the real one. */
export interface Stage {
  table: string
  /** The real table, quoted. */
  target: string
  /** Columns the rows carry, as in the dump. */
  columns: string[]
  /** Columns copied on into the target. */
  keep: string[]
  onConflictDoNothing: boolean
  /** Statements that build the temporary table. */
  setup: string[]
}

export interface Planned {
  action: 'run' | 'skip'
  sql: string
  line: number
  type: string
  notes: Note[]
  /** Statements to run first (a role a policy needs …). */
  before: string[]
  stage?: Stage
}

export interface Current {
  type: string
  node: Node
  sql: string
  line: number
}

export type RuleOutcome =
  | { skip: string }
  | { sql: string; node?: Node; reason: string }
  | { before: string[]; reason: string }
  | { stage: Omit<Stage, 'table' | 'setup' | 'target'>; reason: string }

export interface Rule {
  name: string
  apply(statement: Current, ctx: SanitizeContext): RuleOutcome | undefined
}

/** Schemas of Supabase services and extensions; never a user's. */
export const SUPABASE_SCHEMAS = new Set([
  'extensions', 'auth', 'vault', 'storage', 'realtime', 'graphql_public', 'supabase_functions', 'supabase_migrations', 'pgbouncer', '_resolution',
  '_realtime', '_analytics', '_supavisor', 'graphql', 'net', 'cron', 'pgsodium', 'pgsodium_masks', 'pgtle', 'pgmq', 'repack',
])

export interface SanitizeOptions {
  /** One transaction: session settings become SET LOCAL. */
  transaction: boolean
}

export class SanitizeContext {
  readonly facts: TargetFacts
  readonly options: SanitizeOptions
  /** Objects the dump created (kept statements only), by refKey. */
  readonly created = { schemas: new Set<string>(), relations: new Set<string>(), functions: new Set<string>(), types: new Set<string>(), roles: new Set<string>(), extensions: new Set<string>(), publications: new Set<string>() }
  /** Extensions the dump asked for that were skipped → why. */
  readonly skippedExtensions = new Map<string, string>()
  /** Pre-existing Supabase-schema relations whose dump definition was skipped: the target's is kept. */
  readonly keptExisting = new Set<string>()
  /** Generated columns of tables the dump creates. */
  readonly createdGenerated = new Map<string, Set<string>>()
  /** Objects of the dump whose ACL was brought back to PostgreSQL's default before the dump's GRANTs. */
  readonly aclBaseline = new Set<string>()
  /** Schemas that already existed on the target and belong to Supabase services (the bootstrap's). */
  readonly managedSchemas: Set<string>
  #stages = 0

  constructor(facts: TargetFacts, options: SanitizeOptions) {
    this.facts = facts
    this.options = options
    this.managedSchemas = new Set([...facts.schemas].filter((s) => SUPABASE_SCHEMAS.has(s)))
  }

  schemaExists(schema: string): boolean {
    return this.facts.schemas.has(schema) || this.created.schemas.has(schema)
  }
  relationExists(relation: string): boolean {
    return this.facts.relations.has(relation) || this.created.relations.has(relation)
  }
  functionExists(fn: string): boolean {
    return this.facts.functions.has(fn) || this.created.functions.has(fn)
  }
  roleExists(role: string): boolean {
    return this.facts.roles.has(role) || this.created.roles.has(role)
  }
  extensionPresent(name: string): boolean {
    return this.facts.installedExtensions.has(name) || this.created.extensions.has(name)
  }
  /** The object existed before the restore began. */
  preExisting(ref: ObjectRef): boolean {
    const k = refKey(ref)
    switch (ref.kind) {
      case 'schema':
        return this.facts.schemas.has(ref.schema)
      case 'relation':
        return this.facts.relations.has(k) && !this.created.relations.has(k)
      case 'function':
        return this.facts.functions.has(k) && !this.created.functions.has(k)
      case 'type':
        return this.facts.types.has(k) && !this.created.types.has(k)
      default:
        return false
    }
  }
  exists(ref: ObjectRef): boolean {
    const k = refKey(ref)
    switch (ref.kind) {
      case 'schema':
        return this.schemaExists(ref.schema)
      case 'relation':
        return this.relationExists(k)
      case 'function':
        return this.functionExists(k)
      case 'type':
        return this.facts.types.has(k) || this.created.types.has(k)
      case 'extension':
        return this.extensionPresent(ref.name)
      default:
        return true
    }
  }
  generatedColumns(relation: string): Set<string> {
    const created = this.createdGenerated.get(relation)
    if (created) return created
    const columns = this.facts.columns.get(relation)
    return new Set([...(columns ?? [])].filter(([, c]) => c.generated).map(([name]) => name))
  }
  /** Columns of a pre-existing table (undefined for one the dump creates). */
  targetColumns(relation: string): Map<string, { type: string; generated: boolean }> | undefined {
    return this.created.relations.has(relation) ? undefined : this.facts.columns.get(relation)
  }
  nextStageName(): string {
    this.#stages += 1
    return `resolution_restore_stage_${this.#stages}`
  }
}

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

