/**
 * The PostgreSQL client tools the CLI runs, from PATH unless `PG_DUMP` / `PSQL` name them.
 * @module
 */
import { text, type Env } from './env.ts'

export interface ClientTools {
  pgDump: string
  psql: string
}

export function clientTools(env: Env = process.env): ClientTools {
  return { pgDump: text(env, 'PG_DUMP') ?? 'pg_dump', psql: text(env, 'PSQL') ?? 'psql' }
}
