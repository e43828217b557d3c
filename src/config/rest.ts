/**
 * Settings of the PostgREST-compatible `/rest/v1` (names follow PostgREST's `db-*` settings).
 * @module
 */
import { boolean, choice, fail, integer, list, text, type Env } from './env.ts'
import type { VariableName } from './variables.ts'

export interface RestConfig {
  /** `DB_MAX_ROWS`: most rows a response carries (Supabase: 1000); 0 = no cap. */
  maxRows: number | undefined
  /** `DB_AGGREGATES_ENABLED`: allow `count()`, `sum()` … in `select`. */
  aggregatesEnabled: boolean
  /** `DB_PLAN_ENABLED`: answer `Accept: application/vnd.pgrst.plan…` with the statement's EXPLAIN. */
  planEnabled: boolean
  /** `DB_TX_END`: commit, commit-allow-override, rollback, rollback-allow-override. */
  txEnd: 'commit' | 'commit-allow-override' | 'rollback' | 'rollback-allow-override'
  /** `DB_SAFE_UPDATE`: refuse PATCH/DELETE without a filter, as Supabase's pg-safeupdate. */
  safeUpdate: boolean
  /** `OPENAPI_MODE`: follow-privileges, ignore-privileges, disabled. */
  openapiMode: 'follow-privileges' | 'ignore-privileges' | 'disabled'
  /**
   * `DB_CHANNEL_ENABLED`: LISTEN on `pgrst` for `NOTIFY pgrst, 'reload schema'` (a dedicated
   * connection; turn off behind a transaction pooler, where LISTEN cannot work).
   */
  channelEnabled: boolean
  /** `DB_EXTRA_ROLES`: roles besides anon, authenticated and service_role a JWT may carry. */
  extraRoles: string[]
  /** `DB_POOL_CLIENT_SHARE`: requests one client may run at once; undefined = half the pool. */
  clientShare: number | undefined
  /** `DB_POOL_CLIENT_WAIT`: ms a client's request waits for its share before a 503. */
  clientWaitMs: number
  /**
   * `DB_PRE_REQUEST`: a function (`schema.name`, or `name` found on the request's search path)
   * called in each request's transaction after its settings, before its statement; it refuses
   * a request by raising.
   */
  preRequest: FunctionName | undefined
  /**
   * `JWT_ROLE_CLAIM_KEY`: where in the JWT's claims the role is, as PostgREST's
   * `jwt-role-claim-key` (`.role`, `.app_metadata.role`, `."https://x.com/role"`, `.roles[0]`);
   * the steps of that path. Default `.role`.
   */
  roleClaimPath: ClaimStep[]
  /**
   * The REST variables the environment gave, kept so in-database `pgrst.*` settings can be
   * layered under them (the environment wins, as in PostgREST): see `src/rest/db-settings.ts`.
   */
  environment: Readonly<Env>
}

/** Every variable `restConfig` reads. */
const REST_VARIABLES: readonly VariableName[] = ['DB_MAX_ROWS', 'DB_AGGREGATES_ENABLED', 'DB_PLAN_ENABLED', 'DB_TX_END', 'DB_SAFE_UPDATE', 'OPENAPI_MODE', 'DB_CHANNEL_ENABLED', 'DB_EXTRA_ROLES', 'DB_POOL_CLIENT_SHARE', 'DB_POOL_CLIENT_WAIT', 'DB_PRE_REQUEST', 'JWT_ROLE_CLAIM_KEY']

function roleList(env: Env): string[] {
  const names = list(env, 'DB_EXTRA_ROLES')
  for (const name of names) {
    if (name.length > 63 || /[\u0000-\u001f]/.test(name)) fail('DB_EXTRA_ROLES', `${JSON.stringify(name)} is not a role name`)
  }
  return names
}

export interface FunctionName {
  schema: string | undefined
  name: string
}

/** `name` or `schema.name`, unquoted, as PostgREST's `db-pre-request` takes it. */
function functionName(env: Env, variable: VariableName): FunctionName | undefined {
  const raw = text(env, variable)
  if (raw === undefined) return undefined
  const parts = raw.split('.')
  const valid = (part: string) => part.length > 0 && part.length <= 63 && !/[\u0000-\u001f"]/.test(part)
  if (parts.length > 2 || !parts.every(valid)) fail(variable, `${JSON.stringify(raw)} is not a function name (name or schema.name)`)
  return parts.length === 2 ? { schema: parts[0], name: parts[1]! } : { schema: undefined, name: parts[0]! }
}

/** One step of a claim path: an object key or an array index. */
export type ClaimStep = string | number

const CLAIM_STEP = /^(?:\.([A-Za-z_][A-Za-z0-9_$-]*)|\."((?:[^"\\]|\\.)*)"|\[(\d{1,6})\])/

/** PostgREST's JSPath subset: `.key`, `."any key"`, `[index]`, at least one step. */
export function parseClaimPath(raw: string): ClaimStep[] | undefined {
  const steps: ClaimStep[] = []
  let rest = raw.trim()
  while (rest.length > 0) {
    const match = CLAIM_STEP.exec(rest)
    if (!match) return undefined
    if (match[1] !== undefined) steps.push(match[1])
    else if (match[2] !== undefined) steps.push(match[2].replace(/\\(.)/g, '$1'))
    else steps.push(Number(match[3]))
    rest = rest.slice(match[0].length)
  }
  return steps.length > 0 && steps.length <= 16 ? steps : undefined
}

function claimPath(env: Env, variable: VariableName): ClaimStep[] {
  const raw = text(env, variable)
  if (raw === undefined) return ['role']
  return parseClaimPath(raw) ?? fail(variable, `${JSON.stringify(raw)} is not a claim path like .role, .app_metadata.role or ."https://example.com/role"`)
}

export function restConfig(env: Env): RestConfig {
  const maxRows = integer(env, 'DB_MAX_ROWS', 1000, 0, 999_999_999)
  return {
    maxRows: maxRows === 0 ? undefined : maxRows,
    aggregatesEnabled: boolean(env, 'DB_AGGREGATES_ENABLED', false),
    planEnabled: boolean(env, 'DB_PLAN_ENABLED', false),
    txEnd: choice(env, 'DB_TX_END', ['commit', 'commit-allow-override', 'rollback', 'rollback-allow-override'], 'commit-allow-override'),
    safeUpdate: boolean(env, 'DB_SAFE_UPDATE', true),
    openapiMode: choice(env, 'OPENAPI_MODE', ['follow-privileges', 'ignore-privileges', 'disabled'], 'follow-privileges'),
    channelEnabled: boolean(env, 'DB_CHANNEL_ENABLED', true),
    extraRoles: roleList(env),
    clientShare: integer(env, 'DB_POOL_CLIENT_SHARE', undefined, 1, 10_000),
    clientWaitMs: integer(env, 'DB_POOL_CLIENT_WAIT', 5000, 0, 600_000),
    preRequest: functionName(env, 'DB_PRE_REQUEST'),
    roleClaimPath: claimPath(env, 'JWT_ROLE_CLAIM_KEY'),
    environment: Object.fromEntries(REST_VARIABLES.flatMap((name) => {
      const value = text(env, name)
      return value === undefined ? [] : [[name, value]]
    })),
  }
}
