/**
 * bcrypt (cost 10, ~65 ms of pure JS per hash) off the event loop: a small pool of worker
 * threads, so sign-ins use every core and never stall the requests around them. Where workers
 * cannot start (a bundle without node_modules, e.g. Lambda) it falls back to bcryptjs on the
 * main thread, which yields between rounds.
 * @module
 */
import { createRequire } from 'node:module'
import os from 'node:os'
import { Worker } from 'node:worker_threads'
import bcrypt from 'bcryptjs'

type Job = { op: 'hash' | 'compare'; a: string; b: string }
type Pending = { job: Job; worker: Worker; resolve: (value: string | boolean) => void; reject: (error: Error) => void }

/** The same work on this thread (bcryptjs yields between rounds). */
function inThread(job: Job): Promise<string | boolean> {
  return job.op === 'hash' ? bcrypt.hash(job.a, job.b) : bcrypt.compare(job.a, job.b)
}

function workerSource(bcryptPath: string): string {
  return `
const { parentPort } = require('node:worker_threads')
const bcrypt = require(${JSON.stringify(bcryptPath)})
parentPort.on('message', ({ id, op, a, b }) => {
  try {
    parentPort.postMessage({ id, value: op === 'hash' ? bcrypt.hashSync(a, b) : bcrypt.compareSync(a, b) })
  } catch (error) {
    parentPort.postMessage({ id, error: String(error && error.message || error) })
  }
})`
}

class Pool {
  private readonly workers: Worker[] = []
  private readonly pending = new Map<number, Pending>()
  private readonly load = new Map<Worker, number>()
  private nextId = 0

  constructor(size: number, source: string) {
    for (let i = 0; i < size; i++) {
      const worker = new Worker(source, { eval: true })
      worker.unref() // never keeps the process alive
      worker.on('message', (message: { id: number; value?: string | boolean; error?: string }) => {
        this.load.set(worker, (this.load.get(worker) ?? 1) - 1)
        const job = this.pending.get(message.id)
        this.pending.delete(message.id)
        if (!job) return
        if (message.error !== undefined) job.reject(new Error(message.error))
        else job.resolve(message.value!)
      })
      worker.on('error', () => this.retire(worker))
      worker.on('exit', () => this.retire(worker))
      this.workers.push(worker)
      this.load.set(worker, 0)
    }
  }

  get size(): number {
    return this.workers.length
  }

  /** A dead worker leaves the pool; its unfinished jobs are done on this thread instead. */
  private retire(worker: Worker): void {
    const index = this.workers.indexOf(worker)
    if (index >= 0) this.workers.splice(index, 1)
    for (const [id, job] of this.pending) {
      if (job.worker !== worker) continue
      this.pending.delete(id)
      inThread(job.job).then(job.resolve, job.reject)
    }
  }

  run(job: Job): Promise<string | boolean> | undefined {
    if (this.workers.length === 0) return undefined
    // The least busy worker takes the job.
    const worker = this.workers.reduce((best, w) => ((this.load.get(w) ?? 0) < (this.load.get(best) ?? 0) ? w : best))
    const id = this.nextId++
    this.load.set(worker, (this.load.get(worker) ?? 0) + 1)
    return new Promise((resolve, reject) => {
      this.pending.set(id, { job, worker, resolve, reject })
      worker.postMessage({ id, ...job })
    })
  }
}

let pool: Pool | undefined | null // null: tried and unavailable

function getPool(): Pool | undefined {
  if (pool !== undefined) return pool ?? undefined
  try {
    const bcryptPath = createRequire(import.meta.url).resolve('bcryptjs')
    pool = new Pool(Math.max(1, Math.min(4, os.availableParallelism?.() ?? os.cpus().length)), workerSource(bcryptPath))
  } catch {
    pool = null
  }
  return pool ?? undefined
}

/** Turns the pool off (Lambda: one request at a time, threads only cost memory). */
export function disableBcryptWorkers(): void {
  pool = null
}

function run(job: Job): Promise<string | boolean> {
  return getPool()?.run(job) ?? inThread(job)
}

export async function bcryptHash(password: string, salt: string): Promise<string> {
  return (await run({ op: 'hash', a: password, b: salt })) as string
}

export async function bcryptCompare(password: string, hash: string): Promise<boolean> {
  return (await run({ op: 'compare', a: password, b: hash })) as boolean
}

/** How many worker threads serve bcrypt (0 = on the main thread). */
export function bcryptWorkers(): number {
  return getPool()?.size ?? 0
}
