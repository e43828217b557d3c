/**
 * Whose request is this? The address per-client limits and audit rows use. A forwarding header
 * (`AUTH_RATE_LIMIT_HEADER`, e.g. X-Forwarded-For) is trusted only for the entries the proxies
 * appended: each proxy adds the peer it saw on the right, so with `hops` trusted proxies the
 * client is the `hops`-th entry from the right; whatever is left of it the client wrote itself.
 * Without a header the peer of the connection is used: Node's socket, or the Lambda event's
 * sourceIp (an ALB event has none: there the entry the ALB appended is the peer).
 * @module
 */
import { isIP } from 'node:net'
import type { Context } from 'hono'

interface RuntimeEnv {
  incoming?: { socket?: { remoteAddress?: string } }
  requestContext?: { identity?: { sourceIp?: string }; http?: { sourceIp?: string }; elb?: unknown }
}

function entries(header: string | undefined): string[] {
  return (header ?? '')
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean)
}

/** `1.2.3.4`, `1.2.3.4:80`, `[::1]:80`, `::1` → the bare address; anything else → undefined. */
export function parseAddress(raw: string | undefined): string | undefined {
  if (!raw) return undefined
  let value = raw.trim()
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(value)
  if (bracketed) value = bracketed[1]!
  else if (/^[\d.]+:\d+$/.test(value)) value = value.slice(0, value.lastIndexOf(':'))
  return isIP(value) ? value : undefined
}

/** The peer of the connection as the runtime saw it. */
export function peerAddress(c: Context): string | undefined {
  const env = c.env as RuntimeEnv | undefined
  const socket = parseAddress(env?.incoming?.socket?.remoteAddress)
  if (socket) return socket
  const context = env?.requestContext
  const source = parseAddress(context?.identity?.sourceIp ?? context?.http?.sourceIp)
  if (source) return source
  if (context?.elb) return parseAddress(entries(c.req.header('x-forwarded-for')).at(-1))
  return undefined
}

/** The client's address: the trusted hop of `header` when configured (and sane), else the peer. */
export function clientAddress(c: Context, header: string | undefined, trustedHops: number): string | undefined {
  if (header) {
    const list = entries(c.req.header(header))
    // Fewer entries than proxies: the request skipped the outer ones; the leftmost is the peer the first proxy saw.
    const trusted = parseAddress(list[Math.max(0, list.length - trustedHops)])
    if (trusted) return trusted
  }
  return peerAddress(c)
}

/**
 * The key a client is counted under: IPv4 as is (also when IPv4-mapped), IPv6 by its /64, since
 * one host is routinely given a whole /64 and could otherwise rotate through it.
 */
export function limitKey(address: string | undefined): string {
  if (!address) return 'unknown'
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address)
  if (mapped) return mapped[1]!
  if (isIP(address) !== 6) return address
  return `${ipv6Groups(address).slice(0, 4).join(':')}::/64`
}

/** The eight groups of an IPv6 address (zone dropped, `::` expanded, embedded IPv4 converted). */
function ipv6Groups(address: string): string[] {
  const bare = address.split('%')[0]!.toLowerCase()
  const toGroups = (part: string): string[] => {
    if (part === '') return []
    const groups = part.split(':')
    const last = groups.at(-1)!
    if (last.includes('.')) {
      const [a, b, c, d] = last.split('.').map(Number) as [number, number, number, number]
      groups.splice(-1, 1, ((a << 8) | b).toString(16), ((c << 8) | d).toString(16))
    }
    return groups
  }
  const [head = '', tail] = bare.split('::')
  const left = toGroups(head)
  const right = tail === undefined ? [] : toGroups(tail)
  const zeros = tail === undefined ? [] : Array<string>(8 - left.length - right.length).fill('0')
  return [...left, ...zeros, ...right].map((g) => parseInt(g, 16).toString(16))
}
