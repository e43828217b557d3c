/**
 * The real `bin/resolution.mjs` as a child process with a clean environment (what `npm start` and
 * the container run), for tests that read its ready line, its one-line refusals and its exit code.
 * Call `killRunning` in the file's `afterAll` so no child outlives its suite.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import os from 'node:os'
import path from 'node:path'

const BIN = path.resolve(import.meta.dirname, '../../bin/resolution.mjs')
const running = new Set<ChildProcess>()

export interface Run {
  child: ChildProcess
  stdout: () => string
  stderr: () => string
  exit: Promise<number | null>
}

export function runResolution(args: string[], env: Record<string, string>, cwd?: string): Run {
  const child = spawn(process.execPath, [BIN, ...args], {
    env: { PATH: process.env.PATH ?? '', HOME: os.tmpdir(), LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
    cwd,
  })
  running.add(child)
  let out = ''
  let err = ''
  child.stdout!.on('data', (chunk) => (out += chunk))
  child.stderr!.on('data', (chunk) => (err += chunk))
  const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => (running.delete(child), resolve(code))))
  return { child, stdout: () => out, stderr: () => err, exit }
}

/** SIGKILL for every child still running. */
export function killRunning(): void {
  for (const child of running) child.kill('SIGKILL')
}

/** Polls `probe` until it returns a value. */
export async function waitFor<T>(probe: () => T | undefined, timeoutMs = 60_000): Promise<T> {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const value = probe()
    if (value !== undefined) return value
    if (Date.now() > deadline) throw new Error('timed out waiting')
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
}
