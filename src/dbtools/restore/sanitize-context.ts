/**
 * What sanitize and its rules share: the statement being decided, a rule's outcome, the plan,
 * and the context (target catalog + what the dump created so far). Kept apart from sanitize.ts
 * so rules.ts and sanitize.ts do not import each other.
 * @module
 */
import type { Node } from './parse.ts'
import { refKey, type ObjectRef } from './refs.ts'
import type { TargetFacts } from './target.ts'

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
