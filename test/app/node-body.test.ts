/**
 * A response over a Node stream: the Node server takes the stream itself (once); everyone else
 * (the Lambda adapter, `app.request`) reads the web body, which reads the same stream, and only
 * when read — a response never read leaves the stream untouched.
 */
import { Readable } from 'node:stream'
import { describe, expect, it } from 'vitest'
import { nodeStreamResponse, takeNodeBody } from '../../src/http/node-body.ts'

describe('nodeStreamResponse', () => {
  it('hands the Node stream to one taker; the response keeps its status and headers', () => {
    const stream = Readable.from([Buffer.from('abc')])
    const response = nodeStreamResponse(stream, { status: 206, headers: { 'content-range': 'bytes 0-2/10' } })
    expect(response.status).toBe(206)
    expect(response.headers.get('content-range')).toBe('bytes 0-2/10')
    expect(takeNodeBody(response)).toBe(stream)
    expect(takeNodeBody(response)).toBeUndefined()
    expect(takeNodeBody(new Response('plain'))).toBeUndefined()
  })

  it('the web body reads the stream, lazily, and cancelling it destroys the stream', async () => {
    let reads = 0
    const stream = new Readable({
      read() {
        reads++
        this.push(reads <= 3 ? Buffer.from(`chunk${reads};`) : null)
      },
    })
    const response = nodeStreamResponse(stream, { status: 200 })
    await new Promise((resolve) => setTimeout(resolve, 20))
    expect(reads).toBe(0)
    expect(await response.text()).toBe('chunk1;chunk2;chunk3;')

    const endless = new Readable({ read() { this.push(Buffer.alloc(1024)) } })
    const reader = nodeStreamResponse(endless, { status: 200 }).body!.getReader()
    await reader.read()
    await reader.cancel()
    expect(endless.destroyed).toBe(true)
  })
})
