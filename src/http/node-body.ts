/**
 * A response whose body is a Node stream (an object's bytes from S3 or a file), for a runtime
 * that can write it to its Node response as is: the Node server pipes it straight to the socket,
 * skipping the Node → web → Node bridge every chunk would otherwise cross (≈ 1 ms of CPU per MiB
 * on a 100 MiB download from S3, a quarter of the server's share). Anything else (the Lambda
 * adapter, `app.request` in tests, a middleware that replaced the response) reads the web body,
 * which bridges the same stream only when first read.
 * @module
 */
import type { Readable } from 'node:stream'

const nodeBodies = new WeakMap<Response, Readable>()

export function nodeStreamResponse(stream: Readable, init: ResponseInit): Response {
  let chunks: AsyncIterator<Buffer> | undefined
  // highWaterMark 0: nothing is read from `stream` until someone reads the web body.
  const web = new ReadableStream<Uint8Array>(
    {
      async pull(controller) {
        const next = await (chunks ??= stream[Symbol.asyncIterator]()).next()
        if (next.done) controller.close()
        else controller.enqueue(next.value)
      },
      cancel(reason) {
        stream.destroy(reason instanceof Error ? reason : undefined)
      },
    },
    { highWaterMark: 0 },
  )
  const response = new Response(web, init)
  nodeBodies.set(response, stream)
  return response
}

/** The Node stream behind `response`'s body, taken (once) by a runtime that writes it itself. */
export function takeNodeBody(response: Response): Readable | undefined {
  const stream = nodeBodies.get(response)
  if (stream) nodeBodies.delete(response)
  return stream
}
