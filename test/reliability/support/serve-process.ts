/**
 * The real `bin/resolution.mjs serve` as a child process: what a container runs. Scenarios load
 * it over HTTP, read its RSS from /proc, and signal it (SIGTERM drain, SIGKILL crash).
 * @module
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { readFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const BIN = path.resolve(import.meta.dirname, '../../../bin/resolution.mjs')

export interface ServeProcess {
  url: string
  pid: number
  anonKey: string
  serviceRoleKey: string
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves with the exit code (null after a signal) and when it happened (performance.now()). */
  exit: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>
  /** Resident set size, MiB, from /proc. */
  rssMiB(): number
  /** SIGKILL if still running; for cleanup in `finally`. */
  kill(): Promise<void>
}

const running = new Set<ChildProcess>()
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL')
})

export function rssMiB(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8')
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024
}

/** Spawns `serve` and waits for its ready line (rejects with its stderr when it exits first). */
export function spawnServe(env: Record<string, string>, options: { args?: string[]; nodeArgs?: string[]; readyTimeoutMs?: number } = {}): Promise<ServeProcess> {
  const child = spawn(process.execPath, [...(options.nodeArgs ?? []), BIN, 'serve', ...(options.args ?? [])], {
    env: {
      PATH: process.env.PATH ?? '',
      HOME: os.tmpdir(),
      PORT: '0',
      LOG_LEVEL: 'warn',
      // For self-checks of the harness, e.g. bench/reliability/leak-injector.mjs.
      ...(process.env.RELIABILITY_SERVE_NODE_OPTIONS ? { NODE_OPTIONS: process.env.RELIABILITY_SERVE_NODE_OPTIONS } : {}),
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  running.add(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (chunk) => (out += chunk))
  child.stderr!.on('data', (chunk) => (err += chunk))
  const exit = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.on('exit', (code, signal) => {
      running.delete(child)
      resolve({ code, signal, at: performance.now() })
    }),
  )
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`serve did not become ready within ${options.readyTimeoutMs ?? 60_000} ms\n${err}`))
    }, options.readyTimeoutMs ?? 60_000)
    const onData = () => {
      // The keys follow in development only (one write, so they arrive with the line); in production
      // the caller passed them in.
      const match = /resolution ready on (http:\/\/\S+)[^\n]*\n(?:\s+anon key:\s+(\S+)\n\s+service_role key:\s+(\S+))?/.exec(out)
      if (!match) return
      clearTimeout(timer)
      child.stdout!.off('data', onData)
      resolve({
        url: match[1]!.replace('localhost', '127.0.0.1'),
        pid: child.pid!,
        anonKey: match[2] ?? env.ANON_KEY ?? '',
        serviceRoleKey: match[3] ?? env.SERVICE_ROLE_KEY ?? '',
        child,
        stdout: () => out,
        stderr: () => err,
        exit,
        rssMiB: () => rssMiB(child.pid!),
        async kill() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
          await exit
        },
      })
    }
    child.stdout!.on('data', onData)
    void exit.then(({ code, signal }) => {
      clearTimeout(timer)
      reject(new Error(`serve exited (${code ?? signal}) before it was ready\n${err}`))
    })
  })
}
