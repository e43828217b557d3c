/** `resolution serve`: the HTTP server (what `npm start` runs). */
import type { Command } from 'commander'
import { checkApiKeys } from '../../config/api-keys.ts'
import { describeConfig } from '../../config/config.ts'
import { readyLine } from '../../runtime/ready-line.ts'
import { startServer } from '../../runtime/node-server.ts'
import { createServices } from '../../services.ts'
import { commandConfig } from '../context.ts'
import { serveLambdaCommand } from '../../runtime/lambda-serve.ts'

interface ServeOptions {
  port?: string
  databaseUrl?: string
  init: boolean
  printConfig?: boolean
  lambda?: boolean
}

export function register(program: Command): void {
  program
    .command('serve')
    .description('Serve the API over HTTP (embedded database unless DATABASE_URL is set)')
    .option('-p, --port <port>', 'port to listen on (default: PORT or 5050)')
    .option('--database-url <url>', 'PostgreSQL URL (overrides DATABASE_URL)')
    .option('--no-init', 'do not bootstrap the database on start')
    .option('--print-config', 'print the effective configuration (secrets masked) and exit')
    .option('--lambda', 'serve through the Lambda handler, each request as an HTTP API event (like sam local start-api)')
    .action(async (options: ServeOptions) => {
      const env = options.port === undefined ? process.env : { ...process.env, PORT: options.port }
      if (options.lambda) return serveLambdaCommand(options, env)
      const config = await commandConfig(options, env)
      if (options.printConfig) {
        process.stdout.write(JSON.stringify(describeConfig(config), null, 2) + '\n')
        return
      }
      const services = await createServices(config)
      await checkApiKeys(config, services.jwt)
      const server = await startServer(services, { port: config.port, init: options.init })
      const stop = (signal: string) => {
        services.logger.info({ signal }, 'shutting down: draining in-flight requests')
        // ECS gives 30 s by default; we promise to be gone within 10.
        setTimeout(() => process.exit(1), 10_000).unref()
        server.shutdown().then(
          () => process.exit(0),
          () => process.exit(1),
        )
      }
      process.once('SIGTERM', () => stop('SIGTERM'))
      process.once('SIGINT', () => stop('SIGINT'))
      await server.ready
      process.stdout.write(readyLine(config, server.url, server.wirePort))
    })
}
