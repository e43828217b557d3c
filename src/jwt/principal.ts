/**
 * Who is calling, as every API family sees it: a role and the verified claims it came with.
 * Lives on the floor below `http/` so any family (and anything under it) can name it.
 * @module
 */
import type { Claims } from './service.ts'

export interface Principal {
  role: string
  claims: Claims
  /** The raw token the claims came from (never logged). */
  token: string | undefined
  source: 'bearer' | 'apikey' | 'none'
}

/** The role of a request without a token. */
export const ANON_ROLE = 'anon'
