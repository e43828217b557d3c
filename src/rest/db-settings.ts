/**
 * PostgREST's in-database configuration: `pgrst.*` settings read with the schema cache (so
 * `NOTIFY pgrst, 'reload config'` picks up changes) and layered under the environment, which
 * wins as in PostgREST. Only settings PostgREST allows in the database are taken.
 * @module
 */
import type { Logger } from '../logger.ts'
import type { Env } from '../config/env.ts'
import { restConfig, type RestConfig } from '../config/rest.ts'
import type { SchemaCache } from './schema-cache/index.ts'

/** `pgrst.<key>` → the environment variable it stands in for. */
const IN_DATABASE: Readonly<Record<string, string>> = {
  db_aggregates_enabled: 'DB_AGGREGATES_ENABLED',
  db_max_rows: 'DB_MAX_ROWS',
  db_plan_enabled: 'DB_PLAN_ENABLED',
  db_pre_request: 'DB_PRE_REQUEST',
  db_tx_end: 'DB_TX_END',
  openapi_mode: 'OPENAPI_MODE',
  jwt_role_claim_key: 'JWT_ROLE_CLAIM_KEY',
}

const effective = new WeakMap<SchemaCache, WeakMap<RestConfig, RestConfig>>()

/** `base` (from the environment) with the database's `pgrst.*` settings under it. */
export function withDatabaseSettings(base: RestConfig, cache: SchemaCache, logger?: Logger): RestConfig {
  if (!cache.settings || Object.keys(cache.settings).length === 0) return base
  const known = effective.get(cache)?.get(base)
  if (known) return known
  const fromDatabase: Env = {}
  for (const [key, value] of Object.entries(cache.settings)) {
    const name = IN_DATABASE[key]
    if (!name || base.environment[name] !== undefined) continue
    try {
      // One at a time, so a bad value is named and skipped instead of dropping the rest.
      restConfig({ [name]: value })
      fromDatabase[name] = value
    } catch (error) {
      logger?.warn({ setting: `pgrst.${key}` }, `ignored in-database setting: ${(error as Error).message}`)
    }
  }
  const config = restConfig({ ...base.environment, ...fromDatabase })
  const perBase = effective.get(cache) ?? new WeakMap<RestConfig, RestConfig>()
  perBase.set(base, config)
  effective.set(cache, perBase)
  return config
}
