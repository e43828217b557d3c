/**
 * `realtime.send_binary(bytes, event, topic, private)`: bytes from SQL reach protocol 2.0.0
 * clients as a binary broadcast (1.0.0 has no binary frames and gets nothing, as Realtime does),
 * stay bytes in realtime.messages (`binary_payload`, never alongside a JSON payload), and come
 * back in a replay with `meta.replayed`.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { eventually, startRealtime, subscribed, type RealtimeHarness } from './support.ts'

const ALICE = '11111111-1111-1111-1111-111111111111'
const BYTES = [0xde, 0xad, 0xbe, 0xef, 0x00, 0xff]

type Message = { event: string; payload: unknown; meta?: { replayed?: boolean; id?: string } }

const asBytes = (payload: unknown) => [...new Uint8Array(payload as ArrayBuffer)]

describeEachDatabase('realtime binary broadcasts from SQL', (db) => {
  let rt: RealtimeHarness
  const sendBinary = (topic: string, isPrivate: boolean) =>
    db().database.query(`SELECT realtime.send_binary('\\xdeadbeef00ff'::bytea, 'blob', $1, $2)`, [topic, isPrivate])

  beforeAll(async () => {
    await db().database.exec(`CREATE POLICY binary_read ON realtime.messages FOR SELECT TO authenticated USING (realtime.topic() = 'binary-room')`)
    rt = await startRealtime(db())
  })
  afterAll(() => rt?.close())

  it('delivers the bytes to 2.0.0 clients and nothing to 1.0.0 clients', async () => {
    const got: Message[] = []
    const old: Message[] = []
    const modern = rt.client({ vsn: '2.0.0' }).channel('binary-public').on('broadcast', { event: 'blob' }, (m) => got.push(m as unknown as Message))
    const legacy = rt.client({ vsn: '1.0.0' }).channel('binary-public').on('broadcast', { event: 'blob' }, (m) => old.push(m as unknown as Message))
    await Promise.all([subscribed(modern), subscribed(legacy)])
    await sendBinary('binary-public', false)
    const message = await eventually(() => got[0])
    expect(asBytes(message.payload)).toEqual(BYTES)
    expect(typeof message.meta?.id).toBe('string')
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(old).toEqual([])
    const { rows } = await db().database.query<{ payload: unknown; binary_payload: Uint8Array }>(`SELECT payload, binary_payload FROM realtime.messages WHERE topic = 'binary-public'`)
    expect(rows).toHaveLength(1)
    expect(rows[0]!.payload).toBeNull()
    expect([...new Uint8Array(rows[0]!.binary_payload)]).toEqual(BYTES)
    await expect(db().database.query(`INSERT INTO realtime.messages (topic, extension, payload, binary_payload) VALUES ('x', 'broadcast', '{}', '\\x00')`)).rejects.toThrow(/messages_payload_exclusive/)
  })

  it('replays stored bytes on a private join with meta.replayed', async () => {
    const since = Date.now() - 60_000
    await sendBinary('binary-room', true)
    const client = await rt.userClient(await rt.token({ sub: ALICE, role: 'authenticated', aud: 'authenticated' }))
    const got: Message[] = []
    const channel = client.channel('binary-room', { config: { private: true, broadcast: { replay: { since, limit: 5 } as never } } }).on('broadcast', { event: 'blob' }, (m) => got.push(m as unknown as Message))
    await subscribed(channel)
    const message = await eventually(() => got[0])
    expect(asBytes(message.payload)).toEqual(BYTES)
    expect(message.meta?.replayed).toBe(true)
  })
})
