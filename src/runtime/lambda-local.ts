/**
 * Running the Lambda handler on a workstation, without Docker: what `sam local invoke` and
 * `sam local start-api` do, in-process. Reads SAM's `--env-vars` file format and builds the
 * Lambda context object.
 * @module
 */
import { randomUUID } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { pathToFileURL } from 'node:url'
import type { Context } from 'aws-lambda'
import type { Env } from '../config/config.ts'
import { FatalError } from '../errors.ts'
import type { LambdaHttpResult } from './lambda-events.ts'
import { createLambdaRuntime, type LambdaRuntimeOptions } from './lambda-runtime.ts'

/** The template's logical id of the function; env.json sections are keyed by it. */
export const FUNCTION_LOGICAL_ID = 'ResolutionFunction'

export type LocalHandler = (event: unknown, context?: Partial<Context>) => Promise<LambdaHttpResult>

function asVariables(section: unknown, where: string): Record<string, string> {
  if (typeof section !== 'object' || section === null || Array.isArray(section)) {
    throw new FatalError(`${where}: must be an object of NAME: value`)
  }
  const variables: Record<string, string> = {}
  for (const [name, value] of Object.entries(section)) {
    if (typeof value === 'string') variables[name] = value
    else if (typeof value === 'number' || typeof value === 'boolean') variables[name] = String(value)
    else if (value !== null) throw new FatalError(`${where}.${name}: must be a string, number or boolean`)
  }
  return variables
}

/**
 * Parses SAM's env-vars JSON: `{"Parameters": {...}}` applies to every function, and
 * `{"ResolutionFunction": {...}}` to this one (it wins). Other functions' sections are ignored.
 */
export function parseEnvVars(text: string, source = 'env vars file', functionId = FUNCTION_LOGICAL_ID): Record<string, string> {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw new FatalError(`${source}: is not valid JSON (${(error as Error).message})`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    throw new FatalError(`${source}: must be a JSON object like {"${functionId}": {"DATABASE_URL": "…"}}`)
  }
  const sections = parsed as Record<string, unknown>
  const shared = sections.Parameters === undefined ? {} : asVariables(sections.Parameters, `${source}: Parameters`)
  const own = sections[functionId] === undefined ? {} : asVariables(sections[functionId], `${source}: ${functionId}`)
  return { ...shared, ...own }
}

export async function readEnvVarsFile(file: string): Promise<Record<string, string>> {
  let text: string
  try {
    text = await readFile(file, 'utf8')
  } catch (error) {
    throw new FatalError(`--env-vars ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  return parseEnvVars(text, file)
}

export async function readEventFile(file: string): Promise<unknown> {
  let text: string
  try {
    text = file === '-' ? await readStdin() : await readFile(file, 'utf8')
  } catch (error) {
    throw new FatalError(`--event ${file}: cannot read (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  try {
    return JSON.parse(text)
  } catch (error) {
    throw new FatalError(`--event ${file}: is not valid JSON (${(error as Error).message})`)
  }
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = []
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer)
  return Buffer.concat(chunks).toString('utf8')
}

/** The context object Lambda passes, as far as a local run can fill it. */
export function localContext(functionName = FUNCTION_LOGICAL_ID, timeoutMs = 29_000): Context {
  const deadline = Date.now() + timeoutMs
  const requestId = randomUUID()
  return {
    callbackWaitsForEmptyEventLoop: true,
    functionName,
    functionVersion: '$LATEST',
    invokedFunctionArn: `arn:aws:lambda:us-east-1:123456789012:function:${functionName}`,
    memoryLimitInMB: '1024',
    awsRequestId: requestId,
    logGroupName: `/aws/lambda/${functionName}`,
    logStreamName: `local/${requestId}`,
    getRemainingTimeInMillis: () => Math.max(0, deadline - Date.now()),
    done: () => {},
    fail: () => {},
    succeed: () => {},
  }
}

export interface LocalFunction {
  handler: LocalHandler
  close(): Promise<void>
}

/**
 * The handler with `env` as its environment. From source by default; with `bundle`, the built
 * `dist/lambda/index.mjs` is imported instead (its module reads `process.env`, which is
 * extended with `env` first, so use this once per process).
 */
export async function loadLocalFunction(env: Env, options: LambdaRuntimeOptions & { bundle?: string } = {}): Promise<LocalFunction> {
  if (options.bundle) {
    Object.assign(process.env, env)
    let module: { handler?: unknown }
    try {
      module = (await import(pathToFileURL(options.bundle).href)) as { handler?: unknown }
    } catch (error) {
      throw new FatalError(`--bundle ${options.bundle}: cannot load (${(error as Error).message}); run npm run build:lambda first`)
    }
    if (typeof module.handler !== 'function') throw new FatalError(`--bundle ${options.bundle}: exports no handler function`)
    return { handler: module.handler as LocalHandler, close: async () => {} }
  }
  const runtime = await createLambdaRuntime(env, options)
  return { handler: runtime.handler, close: () => runtime.close() }
}
