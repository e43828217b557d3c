/**
 * A bench helper process that prints `PORT <n>` once it listens: started, awaited, stopped.
 * @module
 */
import { spawn } from 'node:child_process'
import path from 'node:path'

export interface PortChild {
  port: number
  pid: number
  stop: () => Promise<void>
}

/** Runs `node [nodeArgs] --import tsx <script> [args]` (in `cwd`, another checkout's for a before/after) and resolves once it prints its port. */
export function startPortChild(name: string, script: string, args: string[], nodeArgs: string[] = [], cwd?: string): Promise<PortChild> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'], cwd })
  const exited = new Promise((resolve) => child.on('exit', resolve))
  return new Promise((resolve, reject) => {
    let out = ''
    child.stdout.on('data', (chunk: Buffer) => {
      out += chunk.toString()
      const m = /PORT (\d+)/.exec(out)
      if (m)
        resolve({
          port: Number(m[1]),
          pid: child.pid!,
          stop: async () => {
            child.kill('SIGTERM')
            await exited
          },
        })
    })
    child.on('exit', (code) => reject(new Error(`${name} exited with ${code} before listening`)))
  })
}

/**
 * The servers a REST bench compares, in the order of its first round: the bare baseline, this
 * tree's service and, with BENCH_BASE_TREE (another checkout, e.g. the commit before a change,
 * with its node_modules), that tree's service as `base`: a before/after in the same rounds.
 */
export type ServerKind = 'baseline' | 'resolution' | 'base'

export function serverKinds(): ServerKind[] {
  return process.env.BENCH_BASE_TREE ? ['baseline', 'resolution', 'base'] : ['baseline', 'resolution']
}

/** Round `round`'s order: rotated each round so no server always runs first. */
export function roundOrder<T>(kinds: readonly T[], round: number): T[] {
  const shift = round % kinds.length
  return [...kinds.slice(shift), ...kinds.slice(0, shift)]
}

/** A bench's `serve-<kind>` child: `base` is this script's twin in BENCH_BASE_TREE serving its own service. */
export function startBenchServer(kind: ServerKind, script: string, relativeScript: string, args: string[]): Promise<PortChild> {
  const prof = process.env.BENCH_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.BENCH_PROF}/${kind}`] : []
  const tree = process.env.BENCH_BASE_TREE
  if (kind === 'base') return startPortChild('base server', path.join(tree!, relativeScript), ['serve-resolution', ...args], prof, tree)
  return startPortChild(`${kind} server`, script, [`serve-${kind}`, ...args], prof)
}
