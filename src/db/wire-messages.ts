/**
 * The few PostgreSQL wire-protocol facts the embedded wire server needs on top of
 * pglite-socket: where a backend reply ends (ReadyForQuery and its transaction status) and how
 * to answer a query by hand (the in-process `db dump` request). Pure functions over bytes.
 * @module
 */

/**
 * Follows a backend message stream chunk by chunk and remembers whether the last complete
 * message was ReadyForQuery, and with which status: `I` idle, `T` in a transaction, `E` in a
 * failed transaction. A reply to Parse/Bind/Execute without Sync has no ReadyForQuery.
 */
export class ReadyTracker {
  #header = Buffer.alloc(0)
  #skip = 0
  #lastType = 0
  #body: Buffer[] = []
  /** Status byte of the last ReadyForQuery, when it is the last complete message. */
  status: 'I' | 'T' | 'E' | undefined
  /** NotificationResponses (`A`) seen so far: LISTEN/NOTIFY traffic such as `NOTIFY pgrst`. */
  readonly notifications: Array<{ channel: string; payload: string }> = []

  push(chunk: Uint8Array): void {
    let data = Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
    while (data.length > 0) {
      if (this.#skip > 0) {
        const n = Math.min(this.#skip, data.length)
        if (this.#lastType === 0x5a && this.#skip === 1) this.status = String.fromCharCode(data[0]!) as ReadyTracker['status']
        if (this.#lastType === 0x41) this.#body.push(Buffer.from(data.subarray(0, n)))
        this.#skip -= n
        data = data.subarray(n)
        if (this.#lastType === 0x41 && this.#skip === 0) this.#notification()
        continue
      }
      // Header: one type byte and an int32 length that counts itself.
      const need = 5 - this.#header.length
      this.#header = Buffer.concat([this.#header, data.subarray(0, need)])
      data = data.subarray(need)
      if (this.#header.length < 5) return
      this.#lastType = this.#header[0]!
      this.#skip = this.#header.readInt32BE(1) - 4
      this.#header = Buffer.alloc(0)
      this.status = undefined
    }
  }

  // NotificationResponse body: int32 sender pid, channel and payload as C strings.
  #notification(): void {
    const body = Buffer.concat(this.#body)
    this.#body = []
    const end = body.indexOf(0, 4)
    this.notifications.push({ channel: body.toString('utf8', 4, end), payload: body.toString('utf8', end + 1, body.indexOf(0, end + 1)) })
  }

  /** True when the reply is complete and the session is outside any transaction. */
  get idle(): boolean {
    return this.#skip === 0 && this.#header.length === 0 && this.status === 'I'
  }

  /** True when the reply ended with ReadyForQuery (any status). */
  get ready(): boolean {
    return this.#skip === 0 && this.#header.length === 0 && this.status !== undefined
  }
}

const TEXT_OID = 25

function message(type: string, body: Buffer): Buffer {
  const header = Buffer.alloc(5)
  header.write(type, 0, 'latin1')
  header.writeInt32BE(body.length + 4, 1)
  return Buffer.concat([header, body])
}

const cstring = (text: string) => Buffer.concat([Buffer.from(text, 'utf8'), Buffer.from([0])])

/** The text of a simple Query message (`Q`), or undefined for any other message. */
export function simpleQueryText(bytes: Uint8Array): string | undefined {
  if (bytes[0] !== 0x51 || bytes.length < 6) return undefined
  return Buffer.from(bytes.buffer, bytes.byteOffset + 5, bytes.byteLength - 6).toString('utf8')
}

/** A one-row, one-text-column result, as a backend answers a simple query. */
export function textResult(column: string, value: string, status: 'I' | 'T' | 'E'): Buffer {
  const field = Buffer.alloc(18)
  // table oid, column number, type oid, type size, type modifier, format code
  field.writeInt32BE(0, 0)
  field.writeInt16BE(0, 4)
  field.writeInt32BE(TEXT_OID, 6)
  field.writeInt16BE(-1, 10)
  field.writeInt32BE(-1, 12)
  field.writeInt16BE(0, 16)
  const count = Buffer.alloc(2)
  count.writeInt16BE(1)
  const rowDescription = message('T', Buffer.concat([count, cstring(column), field]))
  const data = Buffer.from(value, 'utf8')
  const length = Buffer.alloc(4)
  length.writeInt32BE(data.length)
  const dataRow = message('D', Buffer.concat([count, length, data]))
  return Buffer.concat([rowDescription, dataRow, message('C', cstring('SELECT 1')), readyForQuery(status)])
}

function errorResponse(severity: 'ERROR' | 'FATAL', code: string, text: string): Buffer {
  const fields = Buffer.concat([
    Buffer.from('S'), cstring(severity),
    Buffer.from('V'), cstring(severity),
    Buffer.from('C'), cstring(code),
    Buffer.from('M'), cstring(text),
    Buffer.from([0]),
  ])
  return message('E', fields)
}

/** An ErrorResponse followed by ReadyForQuery. */
export function errorResult(code: string, text: string, status: 'I' | 'T' | 'E'): Buffer {
  return Buffer.concat([errorResponse('ERROR', code, text), readyForQuery(status)])
}

/** A FATAL ErrorResponse: the server's last word before it closes the connection. */
export function fatal(code: string, text: string): Buffer {
  return errorResponse('FATAL', code, text)
}

export function readyForQuery(status: 'I' | 'T' | 'E'): Buffer {
  return message('Z', Buffer.from(status, 'latin1'))
}

/** The Sync message: ends an extended-query exchange a client left unfinished. */
export const SYNC = new Uint8Array([0x53, 0, 0, 0, 4])
/** Frontend Terminate (`X`). */
export const isTerminate = (bytes: Uint8Array) => bytes[0] === 0x58 && bytes.length === 5
