/**
 * One client cannot take the whole pool. Each client (by address, as the auth limits key it) may
 * run `perClient` requests against the database at once; more wait in that client's own queue,
 * and one that waits longer than `waitMs` is answered 503 — the greedy client's request, not
 * everyone's, as a shared pool queue would do.
 * @module
 */
import { pgrstError } from './errors.ts'

export const clientBusy = () =>
  pgrstError(503, 'PGRST003', 'Too many requests from this client are waiting for a database connection', null, 'Retry later, or send fewer requests at once', {
    'Retry-After': '1',
  })

interface Lane {
  running: number
  waiting: Array<() => void>
}

export class FairShare {
  private readonly lanes = new Map<string, Lane>()

  constructor(
    readonly perClient: number,
    readonly waitMs: number,
  ) {}

  async run<T>(client: string, work: () => Promise<T>): Promise<T> {
    let lane = this.lanes.get(client)
    if (!lane) this.lanes.set(client, (lane = { running: 0, waiting: [] }))
    // A slot freed while others wait passes straight to the first waiter, so no newcomer slips in.
    if (lane.running >= this.perClient) await this.wait(lane)
    else lane.running++
    try {
      return await work()
    } finally {
      const next = lane.waiting.shift()
      if (next) next()
      else if (--lane.running === 0) this.lanes.delete(client)
    }
  }

  private wait(lane: Lane): Promise<void> {
    return new Promise((resolve, reject) => {
      const wake = () => {
        clearTimeout(timer)
        resolve()
      }
      const timer = setTimeout(() => {
        lane.waiting.splice(lane.waiting.indexOf(wake), 1)
        reject(clientBusy())
      }, this.waitMs)
      lane.waiting.push(wake)
    })
  }
}
