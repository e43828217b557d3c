/**
 * How the CLI finds a running service's embedded database: beside the data dir's lock file,
 * `serve` writes `resolution.wire.json` with its pid and wire port, and removes it on shutdown.
 * A file whose pid is not the live lock holder is stale and ignored. (A separate file, so the
 * lock file keeps its one-number format that other readers rely on.)
 * @module
 */
import fs from 'node:fs'
import path from 'node:path'

export interface WireInfo {
  pid: number
  host: string
  port: number
}

const FILE = 'resolution.wire.json'

export function writeWireInfo(dataDir: string, info: WireInfo): () => void {
  const file = path.join(dataDir, FILE)
  fs.writeFileSync(file, `${JSON.stringify(info)}\n`)
  return () => {
    // Only our own record: a later server on the same dir may have written its own.
    if (readJson(file)?.pid === info.pid) fs.rmSync(file, { force: true })
  }
}

export type EmbeddedState =
  | { state: 'free' }
  /** A live server holds the data dir and serves the wire protocol. */
  | { state: 'serving'; pid: number; url: string }
  /** A live server holds the data dir without a wire port (EMBEDDED_DB_PORT=off or it was busy). */
  | { state: 'locked'; pid: number }

/** What holds `dataDir` right now. */
export function embeddedState(dataDir: string): EmbeddedState {
  let pid: number
  try {
    pid = Number(fs.readFileSync(path.join(dataDir, 'resolution.lock'), 'utf8'))
  } catch {
    return { state: 'free' }
  }
  if (!pid || pid === process.pid || !isAlive(pid)) return { state: 'free' }
  const info = readJson(path.join(dataDir, FILE))
  if (info?.pid !== pid) return { state: 'locked', pid }
  return { state: 'serving', pid, url: `postgres://postgres@${info.host}:${info.port}/postgres` }
}

function readJson(file: string): WireInfo | undefined {
  try {
    const value = JSON.parse(fs.readFileSync(file, 'utf8')) as Partial<WireInfo>
    if (typeof value.pid === 'number' && typeof value.port === 'number' && typeof value.host === 'string') return value as WireInfo
  } catch {
    // missing or half-written: no record
  }
  return undefined
}

/** Whether a process with this pid exists (the data dir's lock and wire record name one). */
export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}
