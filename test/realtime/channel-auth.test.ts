/**
 * The handshake's API key, access tokens on join, their refresh and expiry (Realtime's reasons),
 * Phoenix lifecycle over a raw socket (heartbeat, unmatched topics, limits), and the Lambda
 * runtime's answer on the WebSocket path.
 */
import * as jose from 'jose'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import WebSocket from 'ws'
import { createApp } from '../../src/app.ts'
import { LIMITS } from '../../src/realtime/limits.ts'
import { RealtimeSocket } from '../../src/realtime/socket.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

async function forged(claims: Record<string, unknown>): Promise<string> {
  const now = Math.floor(Date.now() / 1000)
  return new jose.SignJWT({ iat: now, exp: now + 3600, ...claims })
    .setProtectedHeader({ alg: 'HS256' })
    .sign(new TextEncoder().encode('another-secret-with-at-least-32-characters'))
}

/** A raw 2.0.0 socket: send arrays, collect decoded frames. */
async function rawSocket(url: string): Promise<{ ws: WebSocket; frames: unknown[][]; send(frame: unknown[]): void; closed: Promise<number> }> {
  const ws = new WebSocket(url)
  const frames: unknown[][] = []
  ws.on('message', (data, isBinary) => {
    if (!isBinary) frames.push(JSON.parse(String(data)) as unknown[])
  })
  const closed = new Promise<number>((resolve) => ws.on('close', (code) => resolve(code)))
  await new Promise((resolve, reject) => {
    ws.once('open', resolve)
    ws.once('error', reject)
  })
  return { ws, frames, send: (frame) => ws.send(JSON.stringify(frame)), closed }
}

function handshakeStatus(url: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url)
    ws.on('unexpected-response', (_request, response) => resolve(response.statusCode ?? 0))
    ws.on('open', () => reject(new Error('upgrade accepted')))
    ws.on('error', () => {})
  })
}

describeEachDatabase('realtime channels and tokens', (db) => {
  let rt: RealtimeHarness
  let wsUrl: string
  beforeAll(async () => {
    rt = await startRealtime(db())
    wsUrl = `${rt.app.url.replace('http', 'ws')}/realtime/v1/websocket?vsn=2.0.0&apikey=${rt.app.anonKey}`
  })
  afterAll(() => rt?.close())

  it('refuses the upgrade without an API key or with a forged one (401)', async () => {
    const base = `${rt.app.url.replace('http', 'ws')}/realtime/v1/websocket?vsn=2.0.0`
    expect(await handshakeStatus(base)).toBe(401)
    expect(await handshakeStatus(`${base}&apikey=${await forged({ role: 'anon' })}`)).toBe(401)
    expect(await handshakeStatus(`${rt.app.url.replace('http', 'ws')}/realtime/v1/websocket?vsn=9&apikey=${rt.app.anonKey}`)).toBe(400)
  })

  it('refuses a join with a forged or expired access token, as Realtime words it', async () => {
    const bad = (await rt.userClient(await forged({ role: 'authenticated', sub: 'x' }))).channel('guarded')
    await expect(subscribed(bad)).rejects.toThrow('JwtSignatureError: Failed to validate JWT signature')
    const expired = (await rt.userClient(await rt.token({ role: 'authenticated' }, -30))).channel('guarded')
    await expect(subscribed(expired)).rejects.toThrow(/InvalidJWTToken: Token has expired \d+ seconds ago/)
    const noRole = (await rt.userClient(await rt.token({ sub: 'x' }))).channel('guarded')
    await expect(subscribed(noRole)).rejects.toThrow('InvalidJWTToken: Fields `role` and `exp` are required in JWT')
  })

  it('closes the channel when its token expires, with a system message saying so', async () => {
    const client = await rt.userClient(await rt.token({ role: 'authenticated', sub: 'u1' }, 2))
    const system: Array<Record<string, unknown>> = []
    const statuses: string[] = []
    const channel = client.channel('short-lived').on('system', {}, (m) => system.push(m))
    await new Promise<void>((resolve) => channel.subscribe((status) => (statuses.push(status), status === 'SUBSCRIBED' && resolve())))
    await eventually(() => (statuses.includes('CLOSED') ? true : undefined), 6000)
    expect(system[0]).toMatchObject({ extension: 'system', status: 'error', channel: 'short-lived' })
    expect(String(system[0]!.message)).toMatch(/^Token has expired \d+ seconds ago$/)
  })

  it('takes a refreshed token, and closes the channel on a bad one', async () => {
    const client = await rt.userClient(await rt.token({ role: 'authenticated', sub: 'u2' }))
    const statuses: string[] = []
    const system: Array<Record<string, unknown>> = []
    const channel = client.channel('refresh').on('system', {}, (m) => system.push(m))
    await new Promise<void>((resolve) => channel.subscribe((status) => (statuses.push(status), status === 'SUBSCRIBED' && resolve())))
    await client.realtime.setAuth(await rt.token({ role: 'authenticated', sub: 'u2' }, 7200))
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(statuses).toEqual(['SUBSCRIBED'])
    await client.realtime.setAuth(await forged({ role: 'authenticated', sub: 'u2' }))
    await eventually(() => (statuses.includes('CLOSED') ? true : undefined))
    expect(system[0]).toMatchObject({ status: 'error', message: 'Failed to validate JWT signature' })
  })

  it('answers heartbeats, unmatched topics, empty topics and the channel limit; closes on a bad frame', async () => {
    const raw = await rawSocket(wsUrl)
    raw.send([null, '1', 'phoenix', 'heartbeat', {}])
    raw.send(['2', '2', 'realtime:', 'phx_join', {}])
    raw.send(['3', '3', 'realtime:never-joined', 'broadcast', { type: 'broadcast', event: 'e', payload: {} }])
    raw.send(['4', '4', 'elsewhere', 'phx_join', {}])
    await eventually(() => (raw.frames.length >= 4 ? true : undefined))
    expect(raw.frames).toEqual([
      [null, '1', 'phoenix', 'phx_reply', { status: 'ok', response: {} }],
      ['2', '2', 'realtime:', 'phx_reply', { status: 'error', response: { reason: 'TopicNameRequired: You must provide a topic name' } }],
      ['3', '3', 'realtime:never-joined', 'phx_reply', { status: 'error', response: { reason: 'unmatched topic' } }],
      ['4', '4', 'elsewhere', 'phx_reply', { status: 'error', response: { reason: 'unmatched topic' } }],
    ])
    raw.frames.length = 0
    for (let i = 0; i <= LIMITS.channelsPerConnection; i++) raw.send([`j${i}`, `j${i}`, `realtime:many-${i}`, 'phx_join', { access_token: rt.app.anonKey }])
    await eventually(() => (raw.frames.filter((f) => f[3] === 'phx_reply').length > LIMITS.channelsPerConnection ? true : undefined))
    const last = raw.frames.filter((f) => f[3] === 'phx_reply').at(-1)!
    expect(last[4]).toEqual({ status: 'error', response: { reason: 'ChannelRateLimitReached: Too many channels' } })
    raw.ws.send('not json')
    expect(await raw.closed).toBe(1003)
  })
})

describeEachDatabase('realtime slow consumers', (db) => {
  let rt: RealtimeHarness
  beforeAll(async () => {
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  it('disconnects a client that stops reading (1008) instead of buffering for it', async () => {
    const url = `${rt.app.url.replace('http', 'ws')}/realtime/v1/websocket?vsn=2.0.0&apikey=${rt.app.anonKey}`
    const slow = await rawSocket(url)
    slow.send(['1', '1', 'realtime:firehose', 'phx_join', {}])
    await eventually(() => (slow.frames.length > 0 ? true : undefined))
    // Stop reading: the kernel buffers fill, then the server's queue grows.
    ;(slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause()
    const fast = await rawSocket(url)
    fast.send(['1', '1', 'realtime:firehose', 'phx_join', {}])
    await eventually(() => (fast.frames.length > 0 ? true : undefined))
    const chunk = 'x'.repeat(256 * 1024)
    for (let i = 0; i < 80; i++) fast.send(['1', String(i + 2), 'realtime:firehose', 'broadcast', { type: 'broadcast', event: 'e', payload: { chunk } }])
    await new Promise((resolve) => setTimeout(resolve, 1500))
    ;(slow.ws as unknown as { _socket: { resume(): void } })._socket.resume()
    expect(await slow.closed).toBe(1008)
    fast.ws.close()
  })
})

describe('realtime without long-lived connections', () => {
  it('answers the WebSocket path with realtime_websocket_unsupported where no upgrade is offered (Lambda)', async () => {
    const { loadConfig } = await import('../../src/config/config.ts')
    const { createServices } = await import('../../src/services.ts')
    const { LAMBDA_PROFILE } = await import('../../src/config/runtime-profile.ts')
    const config = loadConfig({ JWT_SECRET: 'test-secret-with-at-least-32-characters-long', LOG_LEVEL: 'silent', DATABASE_URL: 'postgres://127.0.0.1:1/none' })
    const services = await createServices(config, { profile: LAMBDA_PROFILE })
    const response = await createApp(services).request('/realtime/v1/websocket?vsn=2.0.0', { headers: { upgrade: 'websocket' } })
    expect(response.status).toBe(501)
    expect(await response.json()).toMatchObject({ code: 'realtime_websocket_unsupported' })
  })

  it('drops a client that stops reading instead of buffering for it', () => {
    const closes: number[] = []
    const sent: unknown[] = []
    let buffered = 0
    const socket = new RealtimeSocket(
      { hub: undefined as never, changes: undefined as never, jwt: undefined as never, logger: undefined as never, authorize: async () => ({ broadcast: { read: true, write: true }, presence: { read: true, write: true } }), replay: async () => [] },
      { send: (frame) => sent.push(frame), close: (code) => closes.push(code), bufferedAmount: () => buffered },
      '2.0.0',
      '',
    )
    socket.deliver('first')
    buffered = LIMITS.slowConsumerBytes + 1
    socket.deliver('second')
    socket.deliver('third')
    expect(sent).toEqual(['first'])
    expect(closes).toEqual([1008])
  })
})
