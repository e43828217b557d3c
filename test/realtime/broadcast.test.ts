/**
 * Broadcast between realtime-js clients over the real WebSocket: both protocol versions, `self`,
 * `ack`, binary payloads, heartbeats, leave, and the HTTP broadcast endpoints.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

describeEachDatabase('realtime broadcast', (db) => {
  let rt: RealtimeHarness
  beforeAll(async () => {
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  for (const vsn of ['1.0.0', '2.0.0'] as const) {
    describe(`vsn ${vsn}`, () => {
      it('delivers a broadcast to the other clients, not back to the sender without self', async () => {
        const topic = `room-${vsn}`
        const got: unknown[] = []
        const echoed: unknown[] = []
        const a = rt.client({ vsn }).channel(topic)
        a.on('broadcast', { event: 'cursor' }, (m) => echoed.push(m))
        const b = rt.client({ vsn: vsn === '1.0.0' ? '2.0.0' : '1.0.0' }).channel(topic)
        b.on('broadcast', { event: 'cursor' }, (m) => got.push(m))
        await Promise.all([subscribed(a), subscribed(b)])
        expect(await a.send({ type: 'broadcast', event: 'cursor', payload: { x: 1, name: 'é🙂' } })).toBe('ok')
        const message = await eventually(() => got[0])
        expect(message).toMatchObject({ type: 'broadcast', event: 'cursor', payload: { x: 1, name: 'é🙂' } })
        await new Promise((resolve) => setTimeout(resolve, 100))
        expect(echoed).toEqual([])
      })

      it('echoes to the sender with self and acknowledges with ack', async () => {
        const topic = `self-${vsn}`
        const got: unknown[] = []
        const a = rt.client({ vsn }).channel(topic, { config: { broadcast: { self: true, ack: true } } })
        a.on('broadcast', { event: '*' }, (m) => got.push(m))
        await subscribed(a)
        expect(await a.send({ type: 'broadcast', event: 'ping', payload: { n: 7 } })).toBe('ok')
        expect(await eventually(() => got[0])).toMatchObject({ event: 'ping', payload: { n: 7 } })
      })
    })
  }

  it('carries binary payloads between 2.0.0 clients', async () => {
    const got: unknown[] = []
    const a = rt.client().channel('binary')
    const b = rt.client().channel('binary')
    b.on('broadcast', { event: 'blob' }, (m) => got.push(m))
    await Promise.all([subscribed(a), subscribed(b)])
    const bytes = new Uint8Array([0, 1, 2, 250, 255])
    await a.send({ type: 'broadcast', event: 'blob', payload: bytes.buffer })
    const message = (await eventually(() => got[0])) as { payload: ArrayBuffer }
    expect([...new Uint8Array(message.payload)]).toEqual([...bytes])
  })

  it('keeps public and private streams of one name apart, and stops delivering after leave', async () => {
    const got: unknown[] = []
    const sender = rt.client().channel('leaving')
    const receiverClient = rt.client()
    const receiver = receiverClient.channel('leaving')
    receiver.on('broadcast', { event: 'e' }, (m) => got.push(m))
    await Promise.all([subscribed(sender), subscribed(receiver)])
    expect(await receiverClient.removeChannel(receiver)).toBe('ok')
    await sender.send({ type: 'broadcast', event: 'e', payload: {} })
    await new Promise((resolve) => setTimeout(resolve, 150))
    expect(got).toEqual([])
  })

  it('accepts HTTP broadcasts (batch and httpSend) and refuses bad batches with a code', async () => {
    const got: unknown[] = []
    const channel = rt.client().channel('http')
    channel.on('broadcast', { event: '*' }, (m) => got.push(m))
    await subscribed(channel)
    const response = await fetch(`${rt.app.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: rt.app.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: 'http', event: 'from-http', payload: { a: 1 } }] }),
    })
    expect(response.status).toBe(202)
    expect(await eventually(() => got[0])).toMatchObject({ event: 'from-http', payload: { a: 1 } })
    const sender = rt.client().channel('http')
    expect(await sender.httpSend('single', { b: 2 })).toEqual({ success: true })
    expect(await eventually(() => got[1])).toMatchObject({ event: 'single', payload: { b: 2 } })

    const bad = await fetch(`${rt.app.url}/realtime/v1/api/broadcast`, {
      method: 'POST',
      headers: { apikey: rt.app.anonKey, 'content-type': 'application/json' },
      body: JSON.stringify({ messages: [{ topic: 'http', payload: 'x' }] }),
    })
    expect(bad.status).toBe(422)
    expect(await bad.json()).toMatchObject({ code: 'realtime_invalid_broadcast' })
    const keyless = await fetch(`${rt.app.url}/realtime/v1/api/broadcast`, { method: 'POST', body: '{}' })
    expect(keyless.status).toBe(401)
  })
})
