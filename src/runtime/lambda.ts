/**
 * The AWS Lambda entry point (`npm run build:lambda` → `dist/lambda/index.mjs`, `index.handler`).
 * Config, services and the app are built once per execution environment, during INIT, and reused
 * by every invocation; see lambda-runtime.ts.
 * @module
 */
import { createLambdaRuntime } from './lambda-runtime.ts'

const runtime = await createLambdaRuntime(process.env)

export const handler = runtime.handler
