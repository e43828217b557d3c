/**
 * A throwaway PostgreSQL 15 server of our own, for scenarios that stop and restart the database:
 * the shared server on 5432 is never touched. `initdb` into a temp dir owned by the `postgres` OS
 * user (initdb refuses to run as root), trust auth, a free port, the socket in /tmp.
 *
 *   const pg = await startPgInstance()
 *   try { … pg.url … await pg.restart() … } finally { await pg.destroy() }
 *
 * `destroy()` stops the server (immediate mode) and removes the directory; it is idempotent and
 * also runs on process exit, so a failing test never leaves a postmaster behind.
 * @module
 */
import { execFile, execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { freePort } from '../../support/ports.ts'

const run = promisify(execFile)
const BIN = process.env.PG_BIN_DIR ?? '/usr/lib/postgresql/15/bin'

export interface PgInstance {
  port: number
  /** `postgres://postgres@127.0.0.1:<port>/postgres` */
  url: string
  /** URL of another database on this server. */
  urlFor(database: string): string
  dir: string
  logFile: string
  /** Fast shutdown: sessions are terminated (57P01), new connections refused. */
  stop(mode?: 'smart' | 'fast' | 'immediate'): Promise<void>
  /** Starts again and waits until it accepts connections. */
  start(): Promise<void>
  restart(): Promise<void>
  running(): boolean
  /** The server log so far (for failure messages). */
  log(): string
  /** Stops (immediate) and removes the data dir. Safe to call twice. */
  destroy(): Promise<void>
}


/** Runs a PostgreSQL binary as the `postgres` OS user when we are root. */
async function asPostgres(binary: string, args: string[], timeoutMs = 60_000): Promise<string> {
  const command = process.getuid?.() === 0 ? 'runuser' : path.join(BIN, binary)
  const argv = process.getuid?.() === 0 ? ['-u', 'postgres', '--', path.join(BIN, binary), ...args] : args
  const { stdout } = await run(command, argv, { timeout: timeoutMs })
  return stdout
}

function postgresOwner(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith('postgres:'))
  if (!line) throw new Error('no postgres OS user to run a throwaway PostgreSQL as')
  const [, , uid, gid] = line.split(':')
  return { uid: Number(uid), gid: Number(gid) }
}

const live = new Set<PgInstance>()
let exitHookInstalled = false
const OWNER_FILE = 'owner.pid'
const DIR_PREFIX = 'resolution-pg-'

/** Synchronous immediate stop and removal, for exit paths where nothing async runs any more. */
function stopAndRemoveSync(dir: string): void {
  try {
    const stop = path.join(BIN, 'pg_ctl')
    const args = ['-D', path.join(dir, 'data'), '-m', 'immediate', '-w', 'stop']
    if (process.getuid?.() === 0) execFileSync('runuser', ['-u', 'postgres', '--', stop, ...args], { stdio: 'ignore' })
    else execFileSync(stop, args, { stdio: 'ignore' })
  } catch {
    // not running
  }
  rmSync(dir, { recursive: true, force: true })
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0)
    return true
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM'
  }
}

/** Instances left by a test process that was SIGKILLed (no hook ran): stop and remove them. */
function sweepOrphans(): void {
  for (const name of readdirSync(os.tmpdir())) {
    if (!name.startsWith(DIR_PREFIX)) continue
    const dir = path.join(os.tmpdir(), name)
    const owner = Number(existsSync(path.join(dir, OWNER_FILE)) ? readFileSync(path.join(dir, OWNER_FILE), 'utf8') : NaN)
    if (Number.isInteger(owner) && owner > 0 && !isAlive(owner)) stopAndRemoveSync(dir)
  }
}

function installExitHook(): void {
  if (exitHookInstalled) return
  exitHookInstalled = true
  const cleanup = () => {
    for (const instance of live) stopAndRemoveSync(instance.dir)
    live.clear()
  }
  // Last resort on abnormal exits, so no postmaster outlives the test process. Node runs no
  // 'exit' handlers on a fatal signal, so those are caught, cleaned up, and re-raised.
  process.once('exit', cleanup)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanup()
      process.kill(process.pid, signal)
    })
  }
}

export async function startPgInstance(options: { settings?: Record<string, string> } = {}): Promise<PgInstance> {
  installExitHook()
  sweepOrphans()
  const dir = mkdtempSync(path.join(os.tmpdir(), DIR_PREFIX))
  writeFileSync(path.join(dir, OWNER_FILE), String(process.pid))
  const owner = postgresOwner()
  if (owner) chownSync(dir, owner.uid, owner.gid)
  const data = path.join(dir, 'data')
  const logFile = path.join(dir, 'postgres.log')
  const port = await freePort()
  let isRunning = false
  let destroyed = false

  const settings: Record<string, string> = {
    port: String(port),
    listen_addresses: "'127.0.0.1'",
    unix_socket_directories: "'/tmp'",
    max_connections: '100',
    fsync: 'off', // throwaway: durability across an OS crash is not what we test
    ...options.settings,
  }
  const serverOptions = Object.entries(settings)
    .map(([name, value]) => `-c ${name}=${value}`)
    .join(' ')

  const instance: PgInstance = {
    port,
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    urlFor: (database) => `postgres://postgres@127.0.0.1:${port}/${encodeURIComponent(database)}`,
    dir,
    logFile,
    running: () => isRunning,
    log: () => (existsSync(logFile) ? readFileSync(logFile, 'utf8') : ''),
    async start() {
      if (destroyed) throw new Error('PostgreSQL instance already destroyed')
      await asPostgres('pg_ctl', ['-D', data, '-o', serverOptions, '-l', logFile, '-w', '-t', '60', 'start'])
      isRunning = true
    },
    async stop(mode = 'fast') {
      await asPostgres('pg_ctl', ['-D', data, '-m', mode, '-w', '-t', '60', 'stop'])
      isRunning = false
    },
    async restart() {
      await instance.stop()
      await instance.start()
    },
    async destroy() {
      if (destroyed) return
      destroyed = true
      live.delete(instance)
      if (isRunning) await instance.stop('immediate').catch(() => {})
      rmSync(dir, { recursive: true, force: true })
    },
  }
  live.add(instance)
  try {
    await asPostgres('initdb', ['-D', data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8', '--locale=C.UTF-8'])
    await instance.start()
  } catch (error) {
    await instance.destroy()
    throw error
  }
  return instance
}
