/**
 * Builds what a Lambda execution environment keeps between invocations: config, services (one
 * database connection, opened on first use, replaced by the pool after it breaks) and the app.
 * Nothing here runs DDL: the schema is created by `resolution db init` / `db migrate` on deploy.
 *
 * Start-up never throws. A bad config becomes a handler that logs one line naming the variable
 * and answers 500 `configuration_error` to every request, so the logs say what is wrong instead of
 * showing a crash loop.
 * @module
 */
import type { Context } from 'aws-lambda'
import pino from 'pino'
import { createApp } from '../app.ts'
import type { Env } from '../config/config.ts'
import { checkApiKeys } from '../config/api-keys.ts'
import { FatalError } from '../errors.ts'
import { createLogger } from '../logger.ts'
import { LAMBDA_PROFILE } from '../config/runtime-profile.ts'
import { createServices, type Services } from '../services.ts'
import { lambdaErrorHandler, lambdaHttpHandler, type LambdaHttpHandler, type LambdaHttpResult } from './lambda-events.ts'
import { loadLambdaConfig } from './lambda-config.ts'

export interface LambdaRuntime {
  handler: (event: unknown, context?: Partial<Context>) => Promise<LambdaHttpResult>
  /** Undefined when start-up failed. */
  services: Services | undefined
  /** The start-up failure, if any (already shown to operators through the log line). */
  startupError: string | undefined
  close(): Promise<void>
}

/**
 * After a thaw, lets the event loop read what arrived while the environment was frozen, such as
 * the database closing the idle connection: the pool then drops that connection and this
 * request opens a new one instead of failing on the dead one. Two check phases guarantee one
 * full poll phase between them, wherever the invocation started; it costs microseconds.
 */
async function readPendingIo(): Promise<void> {
  await new Promise((resolve) => setImmediate(resolve))
  await new Promise((resolve) => setImmediate(resolve))
}

function describeStartupError(error: unknown): string {
  if (error instanceof FatalError) return error.message
  return `start-up failed: ${(error as Error)?.message ?? String(error)}`
}

function failingRuntime(message: string, log: (line: string) => void): LambdaRuntime {
  const answer = lambdaErrorHandler(500, { code: 'configuration_error', message: 'The function is misconfigured; its log names the setting to fix' })
  return {
    async handler(event, context) {
      log(JSON.stringify({ level: 'fatal', code: 'configuration_error', msg: message, requestId: context?.awsRequestId }))
      return answer(event, context)
    },
    services: undefined,
    startupError: message,
    close: async () => {},
  }
}

const internalError = lambdaErrorHandler(500, { code: 'internal_error', message: 'Internal server error' })

export interface LambdaRuntimeOptions {
  /** Where the start-up failure line goes (default: stderr). */
  log?: (line: string) => void
  /** Where the app's JSON logs go (default: stderr, written synchronously). */
  logDestination?: pino.DestinationStream
}

export async function createLambdaRuntime(env: Env, options: LambdaRuntimeOptions = {}): Promise<LambdaRuntime> {
  const log = options.log ?? ((line: string) => console.error(line))
  let services: Services | undefined
  let handle: LambdaHttpHandler
  try {
    const config = loadLambdaConfig(env)
    // Synchronous writes: a frozen execution environment loses no buffered lines. stderr keeps
    // stdout free for `resolution invoke`'s result, as under `sam local invoke`.
    const logger = createLogger(config.logLevel, options.logDestination ?? pino.destination({ dest: 2, sync: true }))
    services = await createServices(config, { profile: LAMBDA_PROFILE, logger })
    // env.json.example's placeholders (or keys of another secret) fail here, not as 401s later.
    await checkApiKeys(config, services.jwt)
    handle = lambdaHttpHandler(createApp(services))
  } catch (error) {
    await services?.close().catch(() => {})
    return failingRuntime(describeStartupError(error), log)
  }
  const ready = services
  return {
    async handler(event, context) {
      await readPendingIo()
      try {
        return await handle(event, context)
      } catch (error) {
        // The app renders its own errors; this is a failure outside it (translation, a bug).
        ready.logger.error({ err: error, requestId: context?.awsRequestId }, 'lambda invocation failed')
        return internalError(event, context)
      } finally {
        // The environment may freeze as soon as the handler returns: what the request left running
        // (an upload's replaced bytes being removed) finishes first.
        await ready.background.idle()
      }
    },
    services: ready,
    startupError: undefined,
    close: () => ready.close(),
  }
}
