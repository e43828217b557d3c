/**
 * The frame codec against realtime-js's own serializer: what its 2.0.0 serializer writes we read,
 * what we write it reads; bad frames are refused with a FrameError, never a crash.
 */
import { describe, expect, it } from 'vitest'
// realtime-js's serializer, as the client uses it (not re-exported by the package index).
import * as serializerModule from '../../node_modules/@supabase/realtime-js/dist/module/lib/serializer.js'
import { decodeFrame, encodeBroadcast, encodeMessage, FrameError } from '../../src/realtime/protocol.ts'

const Serializer = (serializerModule as unknown as { default: new () => { encode: (...a: unknown[]) => unknown; decode: (...a: unknown[]) => unknown } }).default
const serializer = new Serializer()

function clientEncode(message: Record<string, unknown>): string | Uint8Array {
  let out: string | ArrayBuffer = ''
  serializer.encode(message as never, (result: string | ArrayBuffer) => (out = result))
  return typeof out === 'string' ? out : new Uint8Array(out)
}

function clientDecode(frame: string | Uint8Array): Record<string, unknown> {
  let out: Record<string, unknown> = {}
  const raw = typeof frame === 'string' ? frame : frame.buffer.slice(frame.byteOffset, frame.byteOffset + frame.byteLength)
  serializer.decode(raw as never, (result: Record<string, unknown>) => (out = result))
  return out
}

describe('realtime frames', () => {
  it('reads the JSON arrays and binary user broadcast pushes realtime-js 2.0.0 writes', () => {
    const join = decodeFrame('2.0.0', clientEncode({ join_ref: '1', ref: '1', topic: 'realtime:room', event: 'phx_join', payload: { config: {} } }))
    expect(join).toMatchObject({ joinRef: '1', ref: '1', topic: 'realtime:room', event: 'phx_join', payload: { config: {} } })

    const push = decodeFrame('2.0.0', clientEncode({ join_ref: '1', ref: '2', topic: 'realtime:rööm', event: 'broadcast', payload: { type: 'broadcast', event: 'ünïcode', payload: { a: 'é' } } }))
    expect(push).toMatchObject({ joinRef: '1', ref: '2', topic: 'realtime:rööm', event: 'broadcast' })
    expect(push.user).toMatchObject({ event: 'ünïcode', encoding: 'json' })
    expect(JSON.parse(new TextDecoder().decode(push.user!.bytes))).toEqual({ a: 'é' })

    const binary = decodeFrame('2.0.0', clientEncode({ join_ref: '1', ref: '3', topic: 'realtime:r', event: 'broadcast', payload: { type: 'broadcast', event: 'b', payload: new Uint8Array([9, 8]).buffer } }))
    expect(binary.user).toMatchObject({ encoding: 'binary' })
    expect([...binary.user!.bytes]).toEqual([9, 8])
  })

  it('writes user broadcasts and messages realtime-js reads back', () => {
    const bytes = new TextEncoder().encode(JSON.stringify({ x: 'ü' }))
    const decoded = clientDecode(encodeBroadcast('2.0.0', 'realtime:rööm', { form: 'user', event: 'ë', encoding: 'json', bytes })!)
    expect(decoded).toEqual({ join_ref: null, ref: null, topic: 'realtime:rööm', event: 'broadcast', payload: { type: 'broadcast', event: 'ë', payload: { x: 'ü' } } })
    expect(clientDecode(encodeMessage('2.0.0', { joinRef: '1', ref: '2', topic: 't', event: 'phx_reply', payload: { status: 'ok' } }))).toEqual({
      join_ref: '1', ref: '2', topic: 't', event: 'phx_reply', payload: { status: 'ok' },
    })
    expect(JSON.parse(encodeMessage('1.0.0', { ref: '2', topic: 't', event: 'e', payload: {} }))).toEqual({ topic: 't', event: 'e', payload: {}, ref: '2', join_ref: null })
  })

  it('does not send binary payloads to 1.0.0 clients, and turns JSON ones into broadcast messages', () => {
    expect(encodeBroadcast('1.0.0', 't', { form: 'user', event: 'e', encoding: 'binary', bytes: new Uint8Array([1]) })).toBeUndefined()
    const json = encodeBroadcast('1.0.0', 't', { form: 'user', event: 'e', encoding: 'json', bytes: new TextEncoder().encode('{"a":1}') })
    expect(JSON.parse(json as string)).toMatchObject({ topic: 't', event: 'broadcast', payload: { type: 'broadcast', event: 'e', payload: { a: 1 } } })
  })

  it('refuses malformed frames with a FrameError', () => {
    const bad: Array<[('1.0.0' | '2.0.0'), string | Uint8Array]> = [
      ['2.0.0', 'not json'],
      ['2.0.0', '{"topic":"t"}'],
      ['2.0.0', '[null,null,1,"e",{}]'],
      ['2.0.0', '[null,null,"t","e",[1]]'],
      ['1.0.0', '[null,null,"t","e",{}]'],
      ['1.0.0', new Uint8Array([3])],
      ['2.0.0', new Uint8Array([7, 0, 0, 0, 0, 0, 1])],
      ['2.0.0', new Uint8Array([3, 0, 0, 200, 0, 0, 1, 65])],
      ['2.0.0', new Uint8Array([3, 0, 0, 0, 0, 0, 9])],
      ['2.0.0', new Uint8Array([3, 0, 0, 0, 0, 0, 1, 123])],
    ]
    for (const [vsn, frame] of bad) expect(() => decodeFrame(vsn, frame), String(frame)).toThrow(FrameError)
    // A header that is not UTF-8 is what older realtime-js writes (one byte per char code).
    expect(decodeFrame('2.0.0', new Uint8Array([3, 0, 0, 1, 1, 0, 1, 0xf6, 0x65, 0x7b, 0x7d])).topic).toBe('ö')
  })
})
