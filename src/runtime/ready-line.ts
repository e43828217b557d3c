/**
 * The line `serve` prints once the service is ready. The keys are printed only in development:
 * in production stdout goes to CloudWatch (or another log store), and the service_role key
 * bypasses row-level security.
 * @module
 */
import { describeConfig, type Config } from '../config/config.ts'

export function readyLine(config: Config, url: string): string {
  const database = config.databaseUrl ? describeConfig(config).databaseUrl : `embedded (${config.dataDir})`
  const head = `resolution ready on ${url}  database: ${database}\n`
  if (config.production) return head
  return head + `  anon key:         ${config.anonKey}\n` + `  service_role key: ${config.serviceRoleKey}\n`
}
