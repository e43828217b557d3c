/**
 * The shared parsers every config section reads its variables with: one for text, integers,
 * booleans, choices and lists, each taking a declared name (variables.ts) and failing with one
 * `ConfigError` that names the variable. Empty means unset everywhere.
 * @module
 */
import { FatalError } from '../errors.ts'
import type { VariableName } from './variables.ts'

export type Env = Record<string, string | undefined>

/** A bad or missing setting: stops start-up with one line naming the variable. */
export class ConfigError extends FatalError {
  constructor(
    readonly variable: VariableName,
    problem: string,
  ) {
    super(`${variable}: ${problem}`)
  }
}

export function fail(name: VariableName, problem: string): never {
  throw new ConfigError(name, problem)
}

/** The trimmed value, or undefined when unset or blank. */
export function text(env: Env, name: VariableName): string | undefined {
  const value = env[name]?.trim()
  return value === undefined || value === '' ? undefined : value
}

/** A whole number in `min … max`; `fallback` when unset. */
export function integer(env: Env, name: VariableName, fallback: number, min: number, max: number): number
export function integer(env: Env, name: VariableName, fallback: undefined, min: number, max: number): number | undefined
export function integer(env: Env, name: VariableName, fallback: number | undefined, min: number, max: number): number | undefined {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (!/^\d+$/.test(raw)) fail(name, `must be a whole number, got ${JSON.stringify(env[name])}`)
  const value = Number(raw)
  if (value < min || value > max) fail(name, `must be between ${min} and ${max}, got ${value}`)
  return value
}

const TRUE = ['1', 'true', 'yes', 'on']
const FALSE = ['0', 'false', 'no', 'off']

export function boolean(env: Env, name: VariableName, fallback: boolean): boolean {
  const raw = text(env, name)?.toLowerCase()
  if (raw === undefined) return fallback
  if (TRUE.includes(raw)) return true
  if (FALSE.includes(raw)) return false
  return fail(name, `must be true or false, got ${JSON.stringify(env[name])}`)
}

/** One of `values`, exactly as written. */
export function choice<T extends string>(env: Env, name: VariableName, values: readonly T[], fallback: T): T {
  const raw = text(env, name)
  if (raw === undefined) return fallback
  if (!(values as readonly string[]).includes(raw)) fail(name, `must be one of ${values.join(', ')}, got ${JSON.stringify(raw)}`)
  return raw as T
}

/** Items separated by `separator`, trimmed, blanks dropped; `fallback` when unset. */
export function list(env: Env, name: VariableName, separator = ',', fallback = ''): string[] {
  return (env[name] ?? fallback)
    .split(separator)
    .map((item) => item.trim())
    .filter((item) => item !== '')
}

/** An absolute http(s) URL (checked with the URL parser); `fallback` when unset. */
export function url(env: Env, name: VariableName, fallback: string): string {
  const value = text(env, name) ?? fallback
  try {
    new URL(value)
  } catch {
    fail(name, `is not a valid URL: ${JSON.stringify(value)}`)
  }
  return value
}
