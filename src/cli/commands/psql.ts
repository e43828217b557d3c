/**
 * `resolution db psql`: psql on whichever database the other commands would use — DATABASE_URL
 * (or --database-url), else the running service's embedded database through its wire port.
 * The password goes through PGPASSWORD, never the command line (visible in ps).
 * @module
 */
import { spawn } from 'node:child_process'
import type { Command } from 'commander'
import { FatalError } from '../../errors.ts'
import { embeddedState } from '../../db/wire-info.ts'
import type { Config } from '../../config/config.ts'
import { clientTools } from '../../config/tools.ts'
import { databaseConfig } from '../context.ts'

/** The URL to connect to, or one clear line saying why there is none. */
export function connectableUrl(config: Config): string {
  if (config.databaseUrl) return config.databaseUrl
  const state = embeddedState(config.dataDir)
  if (state.state === 'locked') {
    throw new FatalError(`the embedded database in ${config.dataDir} is held by resolution (pid ${state.pid}) without a database port (EMBEDDED_DB_PORT=off or busy); restart it with EMBEDDED_DB_PORT set, or stop it`)
  }
  throw new FatalError(`nothing to connect to: DATABASE_URL is not set and no \`resolution serve\` (npm start) is running on the embedded database in ${config.dataDir}`)
}

/** Runs psql with inherited stdio; resolves with its exit code. */
export function runPsql(url: string, args: string[], binary = clientTools().psql): Promise<number> {
  const target = new URL(url)
  const env = { ...process.env }
  if (target.password) {
    env.PGPASSWORD = decodeURIComponent(target.password)
    target.password = ''
  }
  return new Promise((resolve, reject) => {
    const child = spawn(binary, ['--dbname', target.toString(), ...args], { stdio: 'inherit', env })
    child.once('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT') reject(new FatalError(`psql not found (${binary}): install the PostgreSQL client tools (e.g. apt-get install postgresql-client) or set PSQL to its path`))
      else reject(error)
    })
    child.once('close', (code, signal) => resolve(code ?? (signal ? 1 : 0)))
  })
}

export function registerPsql(db: Command): void {
  db.command('psql')
    .description('Open psql on the configured database: DATABASE_URL, or the embedded database of the running service')
    .argument('[psql-args...]', 'passed on to psql, e.g. -c "select 1" or -f file.sql (put them after --)')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .allowUnknownOption()
    .action(async (args: string[], options: { databaseUrl?: string }) => {
      const url = connectableUrl(await databaseConfig(options))
      process.exitCode = await runPsql(url, args)
    })
}
