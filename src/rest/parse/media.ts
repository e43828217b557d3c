/**
 * `Accept` negotiation: the first acceptable media type the endpoint can produce, else 406
 * `PGRST107`.
 * @module
 */
import { unacceptableMedia } from '../errors.ts'
import type { MediaType } from './types.ts'

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
    }
  }
  throw unacceptableMedia(offers.map((o) => o.type))
}
