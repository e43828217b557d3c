/**
 * The line `serve` prints once the service is ready. The keys are printed only in development:
 * in production stdout goes to CloudWatch (or another log store), and the service_role key
 * bypasses row-level security.
 * @module
 */
import { describeConfig, type Config } from '../config/config.ts'

export function readyLine(config: Config, url: string, wirePort?: number): string {
  const database = config.databaseUrl ? describeConfig(config).databaseUrl : `embedded (${config.dataDir})`
  const head = `resolution ready on ${url}  database: ${database}\n`
  if (config.production) return head
  // The embedded wire port is never open in production (embedded-wire.ts), so it is listed here only.
  const wire = wirePort ? `  database:         postgres://postgres@127.0.0.1:${wirePort}/postgres  (psql, resolution db …)\n` : ''
  const publishable = config.publishableKeys[0] ? `  publishable key:  ${config.publishableKeys[0]}\n` : ''
  const secret = config.secretKeys[0] ? `  secret key:       ${config.secretKeys[0]}\n` : ''
  return head + `  anon key:         ${config.anonKey}\n` + `  service_role key: ${config.serviceRoleKey}\n` + publishable + secret + wire
}
