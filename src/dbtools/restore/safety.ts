/**
 * Safety: statements a dump must not run without the operator's say-so. A restore runs as a
 * powerful role (often a superuser), so a crafted dump could run shell commands on the database
 * host, read its files, create superusers or plant code that fires on every DDL. Each rule of the
 * table below names one such statement kind by its parse tree (never by regex) and says why.
 *
 * Two phases: `before` rules judge a statement as written (nothing the sanitizer knows makes those
 * safe, and it may not understand them, e.g. `COPY (SELECT …) TO`); `after` rules judge only what
 * the sanitizer would still run, so Supabase's own objects it already skips (the image event
 * triggers, `ALTER ROLE supabase_admin SUPERUSER` …) are skipped, not refused.
 *
 * Definitions are not execution: a function body, a view or a policy is restored as written and
 * runs only when someone calls it later (see README, "What the safety check does not see").
 * @module
 */
import type { Node } from './parse.ts'
import { RestoreError } from './errors.ts'
import type { Current, Note, SanitizeContext } from './sanitize-context.ts'
import { excerpt } from './excerpt.ts'

export interface UnsafeFinding {
  file: string
  line: number
  /** The rule's name: a stable code. */
  rule: string
  /** What the statement does, e.g. `COPY public.t FROM PROGRAM`. */
  what: string
  /** Why that is refused. */
  why: string
  excerpt: string
  /** Ran anyway because of --allow-unsafe. */
  allowed: boolean
}

interface SafetyRule {
  name: string
  phase: 'before' | 'after'
  why: string
  /** What the statement does, when this rule applies to it (and, for some rules, a more precise why). */
  match(statement: Current, ctx: SanitizeContext): string | { what: string; why: string } | undefined
}

/** Functions that reach outside the database: server files, other servers, other sessions, SQL hidden in strings. */
export const SERVER_FUNCTIONS: Record<string, string> = {
  ...Object.fromEntries(
    ['pg_read_file', 'pg_read_binary_file', 'pg_stat_file', 'pg_ls_dir', 'pg_ls_logdir', 'pg_ls_waldir', 'pg_ls_tmpdir', 'pg_ls_archive_statusdir', 'pg_ls_logicalsnapdir', 'pg_ls_logicalmapdir', 'pg_ls_replslotdir', 'pg_ls_summariesdir', 'pg_current_logfile', 'lo_import', 'lo_export', 'pg_file_write', 'pg_file_rename', 'pg_file_unlink', 'pg_file_sync', 'pg_logdir_ls']
      .map((f) => [f, 'reads or writes files on the database server']),
  ),
  ...Object.fromEntries(['dblink', 'dblink_exec', 'dblink_connect', 'dblink_connect_u', 'dblink_send_query', 'dblink_open', 'dblink_fetch'].map((f) => [f, 'connects to another server and runs SQL there'])),
  ...Object.fromEntries(['query_to_xml', 'query_to_xmlschema', 'query_to_xml_and_xmlschema'].map((f) => [f, 'runs a query given as a string, which this check cannot see into'])),
  ...Object.fromEntries(
    ['pg_terminate_backend', 'pg_cancel_backend', 'pg_reload_conf', 'pg_rotate_logfile', 'pg_promote', 'pg_switch_wal', 'pg_create_restore_point', 'pg_backup_start', 'pg_backup_stop', 'pg_create_physical_replication_slot', 'pg_create_logical_replication_slot', 'pg_drop_replication_slot']
      .map((f) => [f, 'controls the server or other sessions']),
  ),
}

/** Predefined roles whose membership reaches outside the database or past every privilege. */
const PRIVILEGED_ROLES = new Set(['pg_execute_server_program', 'pg_read_server_files', 'pg_write_server_files', 'pg_read_all_data', 'pg_write_all_data', 'pg_signal_backend', 'pg_checkpoint', 'pg_create_subscription', 'pg_use_reserved_connections', 'postgres', 'supabase_admin'])
/** Role attributes that amount to control of the server (CREATEROLE can grant the roles above). */
const PRIVILEGED_ATTRIBUTES: Record<string, string> = { superuser: 'SUPERUSER', isreplication: 'REPLICATION', bypassrls: 'BYPASSRLS', createrole: 'CREATEROLE' }
/** Languages and extensions that run code as the database server's operating-system user. */
const UNTRUSTED_LANGUAGES = new Set(['c', 'internal', 'plpython3u', 'plpythonu', 'plpython2u', 'plperlu', 'pltclu', 'plsh', 'pljavau'])
const UNTRUSTED_EXTENSIONS = new Set(['adminpack', 'plpython3u', 'plpythonu', 'plpython2u', 'plperlu', 'pltclu', 'plsh'])
/** Statements whose expressions are evaluated while the dump loads (a CREATE TABLE's defaults: by its COPY rows). */
const EVALUATED = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'CallStmt', 'CreateTableAsStmt', 'ExplainStmt', 'DeclareCursorStmt', 'PrepareStmt', 'CopyStmt', 'CreateStmt', 'AlterTableStmt'])
/** Of those, the ones that call functions right away (a call of the dump's own function runs its body now). */
const EXECUTED = new Set(['SelectStmt', 'InsertStmt', 'UpdateStmt', 'DeleteStmt', 'MergeStmt', 'CallStmt', 'CreateTableAsStmt', 'ExplainStmt', 'DeclareCursorStmt', 'PrepareStmt', 'CopyStmt'])

/** DO blocks of Supabase's own files, by their whitespace-normalised body, and why each is skipped. */
const KNOWN_DO_BLOCKS = new Map([
  [
    "BEGIN -- role pg_read_all_data is not available on pg13 IF EXISTS ( SELECT FROM pg_catalog.pg_roles WHERE rolname = 'pg_read_all_data' ) THEN GRANT pg_read_all_data TO supabase_read_only_user GRANTED BY postgres; END IF; END",
    "Supabase CLI globals.sql: grants pg_read_all_data to supabase_read_only_user, which the bootstrap already does",
  ],
])

const strings = (list: Node[] | undefined): string[] => (list ?? []).map((n) => n.String?.sval ?? '')
const defElem = (options: Node[] | undefined, name: string): Node | undefined => options?.find((o: Node) => o.DefElem?.defname === name)?.DefElem

function doBody(node: Node): string {
  return String(defElem(node.args, 'as')?.arg?.String?.sval ?? '').replace(/\s+/g, ' ').trim()
}

/** Every function call in a parse tree: `[schema?, name]` lists. */
function functionCalls(node: Node, out: string[][] = []): string[][] {
  if (Array.isArray(node)) for (const item of node) functionCalls(item, out)
  else if (node && typeof node === 'object') {
    if (node.FuncCall) out.push(strings(node.FuncCall.funcname))
    for (const value of Object.values(node)) if (value && typeof value === 'object') functionCalls(value, out)
  }
  return out
}

function copyTarget(node: Node): string {
  return node.relation ? `${node.relation.schemaname ? `${node.relation.schemaname}.` : ''}${node.relation.relname}` : '(query)'
}

/** The rule table. Order matters only for which reason a statement gets when several apply. */
export const SAFETY_RULES: SafetyRule[] = [
  {
    name: 'copy-program',
    phase: 'before',
    why: 'runs a shell command on the database server, as its operating-system user',
    match: ({ type, node }) => (type === 'CopyStmt' && node.is_program ? `COPY ${copyTarget(node)} ${node.is_from ? 'FROM' : 'TO'} PROGRAM` : undefined),
  },
  {
    name: 'copy-file',
    phase: 'before',
    why: 'reads or writes a file on the database server',
    match: ({ type, node }) => (type === 'CopyStmt' && node.filename ? `COPY ${copyTarget(node)} ${node.is_from ? 'FROM' : 'TO'} a server file` : undefined),
  },
  {
    name: 'copy-out',
    phase: 'before',
    why: 'COPY … TO sends data out of the database (a query COPY runs that query); a restore only loads data',
    match: ({ type, node }) => (type === 'CopyStmt' && !node.is_from ? `COPY ${copyTarget(node)} TO STDOUT` : undefined),
  },
  {
    name: 'load-library',
    phase: 'before',
    why: 'loads a shared library into the server process',
    match: ({ type, node }) => (type === 'LoadStmt' ? `LOAD '${node.filename}'` : undefined),
  },
  {
    name: 'do-block',
    phase: 'before',
    why: 'runs procedural code at restore time, as the restoring role',
    match: ({ type, node }) => (type === 'DoStmt' && !KNOWN_DO_BLOCKS.has(doBody(node)) ? 'DO block' : undefined),
  },
  {
    name: 'event-trigger',
    phase: 'after',
    why: "fires on every DDL of every role, superusers included, running the trigger's function as them",
    match: ({ type, node }) => (type === 'CreateEventTrigStmt' ? `CREATE EVENT TRIGGER ${node.trigname} (function ${strings(node.funcname).join('.')})` : undefined),
  },
  {
    name: 'privileged-role',
    phase: 'after',
    why: 'a role with these attributes controls the whole server, beyond this database',
    match: ({ type, node }) => {
      if (type !== 'CreateRoleStmt' && type !== 'AlterRoleStmt') return undefined
      const granted = (node.options ?? [])
        .map((o: Node) => o.DefElem)
        .filter((d: Node) => PRIVILEGED_ATTRIBUTES[d.defname] && d.arg?.Boolean?.boolval === true)
        .map((d: Node) => PRIVILEGED_ATTRIBUTES[d.defname])
      if (granted.length === 0) return undefined
      return `${type === 'CreateRoleStmt' ? 'CREATE' : 'ALTER'} ROLE ${node.role?.rolename ?? node.role} ${granted.join(' ')}`
    },
  },
  {
    name: 'privileged-membership',
    phase: 'after',
    why: "membership in this role gives server files or programs, all data, or a superuser's rights",
    match: ({ type, node }) => {
      const names = (list: Node[] | undefined): string[] => (list ?? []).map((g: Node) => g.RoleSpec?.rolename ?? 'PUBLIC')
      if (type === 'GrantRoleStmt' && node.is_grant) {
        const roles = (node.granted_roles ?? []).map((g: Node) => g.AccessPriv.priv_name as string).filter((r: string) => PRIVILEGED_ROLES.has(r))
        return roles.length ? `GRANT ${roles.join(', ')} TO ${names(node.grantee_roles).join(', ')}` : undefined
      }
      // CREATE ROLE x IN ROLE …, and ALTER GROUP … ADD USER x.
      if (type === 'CreateRoleStmt') {
        const roles = names(defElem(node.options, 'addroleto')?.arg?.List?.items).filter((r) => PRIVILEGED_ROLES.has(r))
        return roles.length ? `CREATE ROLE ${node.role} IN ROLE ${roles.join(', ')}` : undefined
      }
      if (type === 'AlterRoleStmt' && node.action === 1 && PRIVILEGED_ROLES.has(node.role?.rolename) && defElem(node.options, 'rolemembers')) {
        return `ALTER GROUP ${node.role.rolename} ADD USER ${names(defElem(node.options, 'rolemembers').arg?.List?.items).join(', ')}`
      }
      return undefined
    },
  },
  {
    name: 'untrusted-language',
    phase: 'after',
    why: "code in this language runs as the database server's operating-system user (or loads a shared library)",
    match: ({ type, node }) => {
      if (type === 'CreateExtensionStmt' && UNTRUSTED_EXTENSIONS.has(node.extname)) return `CREATE EXTENSION ${node.extname}`
      if (type === 'CreateFunctionStmt') {
        const language = String(defElem(node.options, 'language')?.arg?.String?.sval ?? 'sql').toLowerCase()
        if (UNTRUSTED_LANGUAGES.has(language)) return `CREATE ${node.is_procedure ? 'PROCEDURE' : 'FUNCTION'} ${strings(node.funcname).join('.')} LANGUAGE ${language}`
      }
      return undefined
    },
  },
  {
    name: 'foreign-file',
    phase: 'after',
    why: 'a foreign table over a server file or program reads it (or runs it) on every query',
    match: ({ type, node }) => {
      if (type !== 'CreateForeignTableStmt') return undefined
      const option = (node.options ?? []).map((o: Node) => o.DefElem?.defname).find((n: string) => n === 'filename' || n === 'program')
      return option ? `CREATE FOREIGN TABLE ${node.base?.relation?.relname} OPTIONS (${option} …)` : undefined
    },
  },
  {
    name: 'subscription',
    phase: 'after',
    why: 'connects to another server and replicates from it (pg_dump writes subscriptions with connect = false)',
    match: ({ type, node }) => {
      if (type !== 'CreateSubscriptionStmt') return undefined
      const connect = String(defElem(node.options, 'connect')?.arg?.String?.sval ?? defElem(node.options, 'connect')?.arg?.Boolean?.boolval ?? 'true').toLowerCase()
      return ['false', 'off', '0', 'no'].includes(connect) ? undefined : `CREATE SUBSCRIPTION ${node.subname} (connects)`
    },
  },
  {
    name: 'server-function',
    phase: 'after',
    why: 'reaches outside the database',
    match: ({ type, node }) => {
      if (!EVALUATED.has(type)) return undefined
      const call = functionCalls(node).find((names) => SERVER_FUNCTIONS[names.at(-1)!])
      return call ? { what: `calls ${call.join('.')}()`, why: SERVER_FUNCTIONS[call.at(-1)!]! } : undefined
    },
  },
  {
    name: 'dump-function-call',
    phase: 'after',
    why: 'calls a function this dump defines, so its body runs at restore time as the restoring role',
    match: ({ type, node }, ctx) => {
      if (!EXECUTED.has(type)) return undefined
      const call = functionCalls(node).find((names) => names.length <= 2 && ctx.created.functions.has(`${names.length === 2 ? names[0] : 'public'}.${names.at(-1)}`))
      return call ? `calls ${call.join('.')}()` : undefined
    },
  },
]

export interface Screened {
  /** A known-harmless statement to skip (a Supabase DO block). */
  skip?: Note
  finding?: Omit<UnsafeFinding, 'file' | 'allowed'>
}

function finding(rule: SafetyRule, match: string | { what: string; why: string }, statement: Current): Screened {
  const { what, why } = typeof match === 'string' ? { what: match, why: rule.why } : match
  return { finding: { rule: rule.name, what, why, line: statement.line, excerpt: excerpt(statement.sql) } }
}

/** The `before` phase: judged as written, before the sanitizer sees the statement. */
export function screenBefore(statement: Current, ctx: SanitizeContext): Screened | undefined {
  if (statement.type === 'DoStmt') {
    const known = KNOWN_DO_BLOCKS.get(doBody(statement.node))
    if (known) return { skip: { rule: 'supabase-do-block', reason: known } }
  }
  for (const rule of SAFETY_RULES) {
    if (rule.phase !== 'before') continue
    const what = rule.match(statement, ctx)
    if (what) return finding(rule, what, statement)
  }
  return undefined
}

/** The `after` phase: only for a statement the sanitizer would run. */
export function screenAfter(statement: Current, ctx: SanitizeContext): Screened | undefined {
  for (const rule of SAFETY_RULES) {
    if (rule.phase !== 'after') continue
    const what = rule.match(statement, ctx)
    if (what) return finding(rule, what, statement)
  }
  return undefined
}

export function formatFinding(f: UnsafeFinding): string {
  return `${f.file}:${f.line}: ${f.what} [${f.rule}]: ${f.why}\n      ${f.excerpt}`
}

/** The refusal: every unsafe statement of every file, nothing changed. */
export class UnsafeDumpError extends RestoreError {
  readonly findings: UnsafeFinding[]
  constructor(findings: UnsafeFinding[]) {
    const first = findings[0]!
    super(
      'unsafe_statement',
      `refused: ${findings.length} statement${findings.length === 1 ? '' : 's'} in the dump would act beyond this database or run code as the restoring role; nothing was restored.\n` +
        `${findings.map((f) => `  ${formatFinding(f)}`).join('\n')}\n` +
        'Review them; --allow-unsafe runs them as written.',
      { line: first.line, statement: first.excerpt },
    )
    this.name = 'UnsafeDumpError'
    this.findings = findings
  }
}
