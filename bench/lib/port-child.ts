/**
 * A bench helper process that prints `PORT <n>` once it listens: started, awaited, stopped.
 * @module
 */
import { spawn } from 'node:child_process'

export interface PortChild {
  port: number
  pid: number
  stop: () => Promise<void>
}

/** Runs `node [nodeArgs] --import tsx <script> [args]` and resolves once it prints its port. */
export function startPortChild(name: string, script: string, args: string[], nodeArgs: string[] = []): Promise<PortChild> {
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', script, ...args], { stdio: ['ignore', 'pipe', 'inherit'] })
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
