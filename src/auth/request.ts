/**
 * Reading auth requests: the JSON body with per-field type checks (wrong types are a 400
 * `bad_json`, as GoTrue's decoder reports them, never a 500), client IP and user agent.
 * @module
 */
import type { Context } from 'hono'
import { authError } from './errors.ts'

export type Body = Record<string, unknown>

function badJson(detail: string) {
  return authError(400, 'bad_json', `Could not parse request body as JSON: ${detail}`)
}

/** The body as an object; empty → `{}`. */
export async function readBody(c: Context): Promise<Body> {
  const text = await c.req.text()
  if (text.trim() === '') return {}
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    throw badJson((error as Error).message)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) throw badJson('expected a JSON object')
  return parsed as Body
}

/** A string member; `null` and absent read as undefined. */
export function str(body: Body, name: string): string | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'string') throw badJson(`"${name}" must be a string`)
  return value
}

export function bool(body: Body, name: string): boolean | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'boolean') throw badJson(`"${name}" must be a boolean`)
  return value
}

/** A JSON object member (metadata); `null` and absent read as undefined. */
export function obj(body: Body, name: string): Record<string, unknown> | undefined {
  const value = body[name]
  if (value === undefined || value === null) return undefined
  if (typeof value !== 'object' || Array.isArray(value)) throw badJson(`"${name}" must be an object`)
  return value as Record<string, unknown>
}

/** PKCE parameters of the email flows: both or neither. */
export function pkceParams(body: Body): { challenge: string; method: 's256' | 'plain' } | undefined {
  const challenge = str(body, 'code_challenge') || undefined
  const methodRaw = str(body, 'code_challenge_method') || undefined
  if (!challenge && !methodRaw) return undefined
  if (!challenge || !methodRaw) throw authError(400, 'validation_failed', 'PKCE flow requires code_challenge_method and code_challenge')
  const method = methodRaw.toLowerCase()
  if (method !== 's256' && method !== 'plain') throw authError(400, 'validation_failed', `code challenge method not supported: ${methodRaw}`)
  if (!/^[a-zA-Z0-9._~-]{43,128}$/.test(challenge)) throw authError(400, 'validation_failed', 'code challenge has to be between 43 and 128 characters')
  return { challenge, method }
}

/** The address recorded on sessions and audit rows: the one the router resolved (client-address.ts). */
export function clientIp(c: Context): string {
  return (c.get('clientAddress') as string | undefined) ?? ''
}

export function userAgent(c: Context): string {
  return (c.req.header('user-agent') ?? '').slice(0, 1000)
}
