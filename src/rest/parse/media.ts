/**
 * `Accept` negotiation: the first acceptable media type the endpoint can produce, else 406
 * `PGRST107`.
 * @module
 */
import { unacceptableMedia } from '../errors.ts'
import type { Explain, MediaType } from './types.ts'

interface Offer {
  type: string
  params: Record<string, string>
  q: number
}

function parseAccept(header: string): Offer[] {
  return header
    .split(',')
    .map((part) => {
      const [type = '', ...rest] = part.split(';').map((s) => s.trim())
      const params: Record<string, string> = {}
      for (const p of rest) {
        const eq = p.indexOf('=')
        if (eq > 0) params[p.slice(0, eq).trim().toLowerCase()] = p.slice(eq + 1).trim().replace(/^"(.*)"$/, '$1')
      }
      const q = params.q === undefined ? 1 : Number(params.q)
      return { type: type.toLowerCase(), params, q: Number.isFinite(q) ? q : 0 }
    })
    .filter((o) => o.type !== '' && o.q > 0)
    .map((o, i) => ({ o, i }))
    .sort((a, b) => b.o.q - a.o.q || a.i - b.i)
    .map(({ o }) => o)
}

export type Endpoint = 'relation' | 'routine' | 'root'

const EXPLAIN_OPTIONS: ReadonlyArray<Explain['options'][number]> = ['analyze', 'verbose', 'settings', 'buffers', 'wal']

/** The response media type and, for `application/vnd.pgrst.plan…`, what to explain. */
export function negotiate(accept: string | undefined, endpoint: Endpoint): { media: MediaType; explain?: Explain } {
  const offers = parseAccept(accept?.trim() || '*/*')
  const plan = endpoint === 'root' ? undefined : offers.find((o) => /^application\/vnd\.pgrst\.plan(\+json|\+text)?$/.test(o.type))
  if (plan && plan === offers[0]) {
    const options = (plan.params.options ?? '').split('|').map((o) => o.trim().toLowerCase())
    return {
      media: negotiateMedia(plan.params.for, endpoint),
      explain: { format: plan.type.endsWith('+json') ? 'json' : 'text', options: EXPLAIN_OPTIONS.filter((o) => options.includes(o)) },
    }
  }
  return { media: negotiateMedia(accept, endpoint) }
}

/** Picks the response media type. */
export function negotiateMedia(accept: string | undefined, endpoint: Endpoint): MediaType {
  const offers = parseAccept(accept?.trim() || '*/*')
  for (const offer of offers) {
    const strip = offer.params.nulls === 'stripped'
    switch (offer.type) {
      case '*/*':
      case 'application/*':
      case 'application/json':
        return endpoint === 'root' ? { kind: 'openapi' } : { kind: 'json' }
      case 'application/openapi+json':
        if (endpoint === 'root') return { kind: 'openapi' }
        break
      case 'application/vnd.pgrst.object+json':
      case 'application/vnd.pgrst.object':
        if (endpoint !== 'root') return { kind: 'object', stripNulls: strip }
        break
      case 'application/vnd.pgrst.array+json':
      case 'application/vnd.pgrst.array':
        if (endpoint !== 'root') return { kind: 'array', stripNulls: strip }
        break
      case 'text/csv':
        if (endpoint !== 'root') return { kind: 'csv' }
        break
      case 'application/geo+json':
        if (endpoint !== 'root') return { kind: 'geojson' }
        break
    }
  }
  throw unacceptableMedia(offers.map((o) => o.type))
}
