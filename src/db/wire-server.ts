/**
 * The embedded database over the PostgreSQL wire protocol (psql, GUI clients, the CLI while the
 * service runs). pglite-socket frames the connections; this module decides who may talk to the
 * engine, because PGlite has ONE session shared by the API and every socket connection.
 *
 * pglite-socket's own queue serialises single messages but lets an API transaction and a socket
 * transaction interleave (the API's BEGIN … COMMIT is several PGlite calls). So instead a socket
 * connection takes the driver's mutex — the one API traffic queues on — for its first message
 * and keeps it until the engine reports ReadyForQuery "idle": a psql `BEGIN … COMMIT` or an
 * unfinished Parse/Bind/Execute exchange holds the engine, and API requests wait (FIFO) until it
 * ends. A connection that holds the engine but stays silent longer than `idleInTransactionMs`
 * is closed and its transaction rolled back, like PostgreSQL's
 * idle_in_transaction_session_timeout, so a forgotten psql BEGIN cannot stall the API for ever.
 * @module
 */
import net from 'node:net'
import type { PGlite } from '@electric-sql/pglite'
import { PGLiteSocketHandler } from '@electric-sql/pglite-socket'
import type { Logger } from '../logger.ts'
import type { PgliteDatabase } from './pglite-driver.ts'
import { errorResult, fatal, isTerminate, ReadyTracker, simpleQueryText, SYNC, textResult } from './wire-messages.ts'

export interface WireServerOptions {
  database: PgliteDatabase
  port: number
  /** Default 127.0.0.1: the engine trusts every user name, so it is never exposed further. */
  host?: string
  /** A connection holding the engine (open transaction) silent this long is closed. Default 60 s. */
  idleInTransactionMs?: number
  maxConnections?: number
  logger?: Logger
  /**
   * A NOTIFY a socket client's statement delivered to the engine's session (it reaches the
   * socket's byte stream, where PGlite's own `listen` callbacks never see it).
   */
  onNotification?(channel: string, payload: string): void
  /** Answers `DUMP_REQUEST` (the runtime passes dbtools' WASM pg_dump). */
  dump: HeldEngineDump
}

/**
 * Dumps the engine as SQL text on the connection that already holds it. Passed in from above
 * so that db/ needs nothing from dbtools/. `options` is the client's JSON, unchecked.
 */
export type HeldEngineDump = (pg: PGlite, options: Record<string, unknown>) => Promise<string>

export interface WireServer {
  port: number
  host: string
  close(): Promise<void>
}

/**
 * A simple query starting with this comment asks the service to dump itself with the WASM
 * pg_dump (JSON options after it); the answer is one text row. `resolution db dump` uses it while
 * the service runs, since a pg_dump older than the engine (18) refuses to dump it.
 */
export const DUMP_REQUEST = '/* resolution:dump */'

interface Held {
  pg: PGlite
  release(): void
}

/** The part of pglite-socket's QueryQueueManager that PGLiteSocketHandler calls. */
interface HandlerQueue {
  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number>
  clearQueueForHandler(handlerId: number): void
  clearTransactionIfNeeded(handlerId: number): Promise<void>
}

/** Hands the one engine session to socket connections, through the driver's mutex. */
class SessionScheduler implements HandlerQueue {
  #held: Held | undefined
  #owner: number | undefined
  #tails = new Map<number, Promise<unknown>>()
  #gone = new Set<number>()
  #idleTimer: NodeJS.Timeout | undefined
  readonly #database: PgliteDatabase
  readonly #idleMs: number
  readonly #onIdleTimeout: (handlerId: number) => void
  readonly #onNotification: WireServerOptions['onNotification']
  readonly #dump: HeldEngineDump

  constructor(database: PgliteDatabase, idleMs: number, onIdleTimeout: (handlerId: number) => void, dump: HeldEngineDump, onNotification?: WireServerOptions['onNotification']) {
    this.#database = database
    this.#idleMs = idleMs
    this.#onIdleTimeout = onIdleTimeout
    this.#onNotification = onNotification
    this.#dump = dump
  }

  /** Messages of one connection run in order; each waits for the engine when it is not held. */
  enqueue(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    const run = (this.#tails.get(handlerId) ?? Promise.resolve()).catch(() => {}).then(() => this.#process(handlerId, message, onData))
    this.#tails.set(handlerId, run)
    return run
  }

  clearQueueForHandler(handlerId: number): void {
    this.#gone.add(handlerId)
  }

  /**
   * The connection closed: end what it left open, undo its session settings (SET, SET ROLE,
   * startup parameters — the engine's one session is the API's too) and give the engine back.
   */
  async clearTransactionIfNeeded(handlerId: number): Promise<void> {
    const used = this.#tails.has(handlerId)
    await (this.#tails.get(handlerId) ?? Promise.resolve()).catch(() => {})
    this.#tails.delete(handlerId)
    if (!used) return
    try {
      if (this.#owner !== handlerId) await this.#acquire(handlerId)
      const { pg } = this.#held!
      // An extended-query exchange cut before Sync would make the engine skip the API's next
      // messages; a transaction left open would swallow them.
      await pg.runExclusive(() => pg.execProtocolRawStream(SYNC, { onRawData: () => {} }))
      if (pg.isInTransaction()) await pg.exec('ROLLBACK')
      await pg.exec('SET SESSION AUTHORIZATION DEFAULT; RESET ALL')
    } catch {
      // The engine is closing (shutdown): nothing is left to clean.
    } finally {
      if (this.#owner === handlerId) this.#release()
      this.#gone.delete(handlerId)
    }
  }

  async #process(handlerId: number, message: Uint8Array, onData: (data: Uint8Array) => void): Promise<number> {
    if (this.#gone.has(handlerId)) throw new Error('connection closed')
    if (this.#owner !== handlerId) await this.#acquire(handlerId)
    clearTimeout(this.#idleTimer)
    const pg = this.#held!.pg
    const tracker = new ReadyTracker()
    let bytes = 0
    const forward = (data: Uint8Array) => {
      tracker.push(data)
      bytes += data.length
      onData(data)
    }
    try {
      // Terminate is the client's goodbye; the engine's one session must outlive it.
      if (isTerminate(message)) tracker.push(readyStatus(pg))
      else if (simpleQueryText(message)?.startsWith(DUMP_REQUEST)) forward(await dumpRequest(pg, simpleQueryText(message)!, this.#dump))
      else await pg.runExclusive(() => pg.execProtocolRawStream(message, { onRawData: forward }))
    } catch (error) {
      this.#release()
      throw error
    }
    for (const { channel, payload } of tracker.notifications) this.#onNotification?.(channel, payload)
    if (tracker.idle) this.#release()
    else if (this.#idleMs > 0) this.#idleTimer = setTimeout(() => this.#onIdleTimeout(handlerId), this.#idleMs).unref()
    return bytes
  }

  #acquire(handlerId: number): Promise<void> {
    return new Promise<void>((acquired, failed) => {
      this.#database
        .withPglite(
          (pg) =>
            new Promise<void>((release) => {
              this.#held = { pg, release }
              this.#owner = handlerId
              acquired()
            }),
        )
        .catch(failed)
    })
  }

  #release(): void {
    clearTimeout(this.#idleTimer)
    const held = this.#held
    this.#held = undefined
    this.#owner = undefined
    held?.release()
  }
}

/** ReadyForQuery with the engine's current status (for messages answered without it). */
function readyStatus(pg: PGlite): Uint8Array {
  return Buffer.from([0x5a, 0, 0, 0, 5, (pg.isInTransaction() ? 'T' : 'I').charCodeAt(0)])
}

/** Runs `dump` on the held engine and answers with the SQL as one text value. */
async function dumpRequest(pg: PGlite, text: string, dump: HeldEngineDump): Promise<Buffer> {
  const status = pg.isInTransaction() ? 'T' : 'I'
  let options: Record<string, unknown>
  try {
    options = JSON.parse(text.slice(DUMP_REQUEST.length) || '{}') as Record<string, unknown>
  } catch {
    return errorResult('22023', 'resolution:dump wants JSON options after the comment', status)
  }
  if (status !== 'I') return errorResult('25001', 'resolution:dump cannot run inside a transaction', status)
  let sql: string
  try {
    sql = await dump(pg, options)
  } catch (error) {
    return errorResult('XX000', `pg_dump failed: ${(error as Error).message}`, 'I')
  }
  return textResult('dump', sql, 'I')
}

/** Listens on `host:port` (0 = any free port) and serves the embedded engine's one session. */
export async function startWireServer(options: WireServerOptions): Promise<WireServer> {
  const host = options.host ?? '127.0.0.1'
  const handlers = new Map<number, { handler: PGLiteSocketHandler; socket: net.Socket }>()
  const idleMs = options.idleInTransactionMs ?? 60_000
  const scheduler = new SessionScheduler(options.database, idleMs, (handlerId) => {
    const connection = handlers.get(handlerId)
    if (!connection) return
    options.logger?.warn({ idleInTransactionMs: idleMs }, 'embedded database: closing a wire connection idle in a transaction; its transaction is rolled back')
    // What PostgreSQL says for idle_in_transaction_session_timeout, then the connection ends.
    connection.socket.write(fatal('25P03', `terminating connection due to idle-in-transaction timeout (${idleMs} ms): the embedded database has one session, shared with the API`))
    void connection.handler.detach(true)
  }, options.dump, options.onNotification)
  const maxConnections = options.maxConnections ?? 100
  const server = net.createServer((socket) => {
    if (handlers.size >= maxConnections) {
      socket.end(fatal('53300', 'sorry, too many clients already'))
      return
    }
    // pglite-socket types its queue as its own class; ours has the same three methods.
    const handler = new PGLiteSocketHandler({ queryQueue: scheduler as unknown as ConstructorParameters<typeof PGLiteSocketHandler>[0]['queryQueue'], closeOnDetach: true })
    handlers.set(handler.handlerId, { handler, socket })
    const forget = () => handlers.delete(handler.handlerId)
    handler.addEventListener('close', forget)
    handler.addEventListener('error', forget)
    handler.attach(socket).catch(() => socket.destroy())
  })
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(options.port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
  const port = (server.address() as net.AddressInfo).port
  return {
    port,
    host,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()))
      await Promise.all([...handlers.values()].map(({ handler }) => handler.detach(true)))
      handlers.clear()
      await closed
    },
  }
}
