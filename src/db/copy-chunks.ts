/**
 * Cuts a stream of COPY text data into chunks that end on a row boundary. Text-format COPY
 * escapes newlines inside values, so every raw `\n` ends a row.
 * @module
 */
import type { CopySource } from './types.ts'

export async function* copyChunks(source: CopySource, targetBytes = 4 * 1024 * 1024): AsyncGenerator<Buffer> {
  let pending: Buffer[] = []
  let pendingBytes = 0
  for await (const piece of source as AsyncIterable<Uint8Array | string>) {
    const buffer = typeof piece === 'string' ? Buffer.from(piece, 'utf8') : Buffer.from(piece)
    pending.push(buffer)
    pendingBytes += buffer.length
    if (pendingBytes < targetBytes) continue
    const joined = Buffer.concat(pending)
    const cut = joined.lastIndexOf(0x0a) + 1
    if (cut === 0) continue
    yield joined.subarray(0, cut)
    pending = [joined.subarray(cut)]
    pendingBytes = pending[0]!.length
  }
  const rest = Buffer.concat(pending)
  if (rest.length > 0) yield rest
}
