/**
 * Settings of the PostgREST-compatible `/rest/v1` (names follow PostgREST's `db-*` settings).
 * @module
 */
import { FatalError } from '../errors.ts'

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
   * The REST variables the environment gave, kept so in-database `pgrst.*` settings can be
   * layered under them (the environment wins, as in PostgREST): see `src/rest/db-settings.ts`.
   */
  environment: Readonly<Env>
}

export type Env = Record<string, string | undefined>

/** Every variable `restConfig` reads. */
const REST_VARIABLES = ['DB_MAX_ROWS', 'DB_AGGREGATES_ENABLED', 'DB_PLAN_ENABLED', 'DB_TX_END', 'DB_SAFE_UPDATE', 'OPENAPI_MODE', 'DB_CHANNEL_ENABLED', 'DB_EXTRA_ROLES', 'DB_POOL_CLIENT_SHARE', 'DB_POOL_CLIENT_WAIT']

function choice<T extends string>(env: Env, name: string, values: readonly T[], fallback: T): T {
  const raw = env[name]?.trim()
  if (!raw) return fallback
  if (!(values as readonly string[]).includes(raw)) throw new FatalError(`${name}: must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`)
  return raw as T
}

function wholeNumber(env: Env, name: string, min: number, max: number): number | undefined {
  const raw = env[name]?.trim()
  if (!raw) return undefined
  if (!/^\d{1,9}$/.test(raw) || Number(raw) < min || Number(raw) > max) throw new FatalError(`${name}: must be a whole number from ${min} to ${max}, got ${JSON.stringify(raw)}`)
  return Number(raw)
}

function roleList(raw: string | undefined): string[] {
  const names = (raw ?? '').split(',').map((name) => name.trim()).filter((name) => name !== '')
  for (const name of names) {
    if (name.length > 63 || /[\u0000-\u001f]/.test(name)) throw new FatalError(`DB_EXTRA_ROLES: ${JSON.stringify(name)} is not a role name`)
  }
  return names
}

export function restConfig(env: Env): RestConfig {
  const rawMax = env.DB_MAX_ROWS?.trim()
  if (rawMax && !/^\d{1,9}$/.test(rawMax)) throw new FatalError(`DB_MAX_ROWS: must be a whole number, got ${JSON.stringify(env.DB_MAX_ROWS)}`)
  const maxRows = rawMax === undefined || rawMax === '' ? 1000 : Number(rawMax)
  const flag = (name: string, fallback: boolean) => choice(env, name, ['true', 'false', '1', '0'], fallback ? 'true' : 'false')
  return {
    maxRows: maxRows === 0 ? undefined : maxRows,
    aggregatesEnabled: ['true', '1'].includes(flag('DB_AGGREGATES_ENABLED', false)),
    planEnabled: ['true', '1'].includes(flag('DB_PLAN_ENABLED', false)),
    txEnd: choice(env, 'DB_TX_END', ['commit', 'commit-allow-override', 'rollback', 'rollback-allow-override'], 'commit-allow-override'),
    safeUpdate: ['true', '1'].includes(flag('DB_SAFE_UPDATE', true)),
    openapiMode: choice(env, 'OPENAPI_MODE', ['follow-privileges', 'ignore-privileges', 'disabled'], 'follow-privileges'),
    channelEnabled: ['true', '1'].includes(flag('DB_CHANNEL_ENABLED', true)),
    extraRoles: roleList(env.DB_EXTRA_ROLES),
    clientShare: wholeNumber(env, 'DB_POOL_CLIENT_SHARE', 1, 10_000),
    clientWaitMs: wholeNumber(env, 'DB_POOL_CLIENT_WAIT', 0, 600_000) ?? 5000,
    environment: Object.fromEntries(REST_VARIABLES.filter((name) => env[name]?.trim()).map((name) => [name, env[name]])),
  }
}
