/**
 * `resolution invoke`: runs the Lambda handler once, in-process, like `sam local invoke` (no
 * Docker): the event from a file, the environment from SAM's env-vars file, the result JSON on
 * stdout and the function's logs on stderr.
 * @module
 */
import type { Command } from 'commander'
import { loadLocalFunction, localContext, readEnvVarsFile, readEventFile } from '../../runtime/lambda-local.ts'

interface InvokeOptions {
  event: string
  envVars?: string
  bundle?: string | true
  databaseUrl?: string
}

export const DEFAULT_BUNDLE = 'dist/lambda/index.mjs'

export function register(program: Command): void {
  program
    .command('invoke')
    .description('Invoke the Lambda handler once with an event file, like `sam local invoke`, without Docker')
    .requiredOption('-e, --event <file>', 'event JSON (see events/); - reads standard input')
    .option('-n, --env-vars <file>', 'environment in SAM format: {"ResolutionFunction": {...}} or {"Parameters": {...}}')
    .option('--bundle [file]', `invoke the built bundle (default ${DEFAULT_BUNDLE}) instead of the source`)
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .action(async (options: InvokeOptions) => {
      const event = await readEventFile(options.event)
      const fileEnv = options.envVars ? await readEnvVarsFile(options.envVars) : {}
      const env = { ...process.env, ...fileEnv, ...(options.databaseUrl ? { DATABASE_URL: options.databaseUrl } : {}) }
      const bundle = options.bundle === true ? DEFAULT_BUNDLE : options.bundle
      const local = await loadLocalFunction(env, { bundle })
      let result: unknown
      try {
        result = await local.handler(event, localContext())
      } finally {
        await local.close()
      }
      const line = JSON.stringify(result) + '\n'
      // The bundle keeps its connection open (as on Lambda) and offers no close: end the process.
      if (bundle) await new Promise<void>((resolve) => process.stdout.write(line, () => resolve())).then(() => process.exit(0))
      process.stdout.write(line)
    })
}
