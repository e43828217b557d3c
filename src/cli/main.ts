/**
 * The `resolution` command line. Each area registers its commands from its own module.
 * @module
 */
import { Command, CommanderError } from 'commander'
import { loadDotEnv } from '../config/dotenv.ts'
import { connectFailure } from '../db/startup-errors.ts'
import { FatalError } from '../errors.ts'
import { registerDbInit } from './commands/db-init.ts'
import { registerDbTools } from './commands/db-tools.ts'
import { register as registerServe } from './commands/serve.ts'
import { register as registerInvoke } from './commands/invoke.ts'
import { register as registerVault } from './commands/vault.ts'
import { register as registerKeys } from './commands/keys.ts'
import { registerMail } from './commands/mail.ts'
import { registerPsql } from './commands/psql.ts'
import { registerStorage } from './commands/storage.ts'
import { packageVersion } from './version.ts'

export function buildProgram(): Command {
  const program = new Command('resolution')
    .description('Supabase-compatible Auth, REST, Vault, Storage and Realtime over PostgreSQL or an embedded database')
    .version(packageVersion())
    .showHelpAfterError()
  registerServe(program)
  registerInvoke(program)
  registerVault(program)
  registerKeys(program)
  registerMail(program)
  registerStorage(program)
  const db = program.command('db').description('Database tools: init, status, dump, restore, migrate, psql')
  registerDbInit(db)
  registerDbTools(db)
  registerPsql(db)
  return program
}

export async function main(argv: string[]): Promise<void> {
  try {
    // Before any command reads its config; the real environment keeps precedence.
    loadDotEnv()
    await buildProgram().parseAsync(argv)
  } catch (error) {
    if (error instanceof CommanderError) process.exit(error.exitCode)
    const fatal = error instanceof FatalError ? error : connectFailure(error, undefined)
    if (fatal) {
      process.stderr.write(`resolution: ${fatal.message}\n`)
      process.exit(1)
    }
    process.stderr.write(`resolution: ${(error as Error)?.stack ?? String(error)}\n`)
    process.exit(1)
  }
}

await main(process.argv)
