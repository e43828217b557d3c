/**
 * Removing bytes whose rows are gone. Now (`removeBytes`: deleted and moved objects, emptied
 * buckets), or after the response (`removeReplacedBytes`: the version an upload replaced — the
 * new row is committed, so the client need not wait for S3's DeleteObjects). Later removals run as
 * the services' background work, which a Lambda invocation and a shutdown wait for; keys queued
 * while one runs go together in the next (one DeleteObjects for up to 1000 keys on S3), so
 * concurrent upserts share requests. A failure is logged; a removal cut short (crash, kill) leaves
 * bytes no row points at, which `storage sweep` removes.
 * @module
 */
import type { Services } from '../services.ts'
import type { StorageBackend } from './backend/types.ts'

/** Removes bytes whose rows are gone; a failure is logged, not the caller's problem (a sweep can find them). */
export async function removeBytes(services: Services, backend: StorageBackend, keys: string[]): Promise<void> {
  if (keys.length === 0) return
  try {
    await backend.remove(keys)
  } catch (error) {
    services.logger.warn({ err: error, count: keys.length }, 'storage: could not remove the bytes of deleted objects')
  }
}

interface Queue {
  keys: string[]
  running: boolean
}

const queues = new WeakMap<StorageBackend, Queue>()

/** Queues `keys` for removal once the current removal (if any) is done; returns at once. */
export function removeReplacedBytes(services: Services, backend: StorageBackend, keys: string[]): void {
  if (keys.length === 0) return
  let queue = queues.get(backend)
  if (!queue) queues.set(backend, (queue = { keys: [], running: false }))
  queue.keys.push(...keys)
  if (queue.running) return
  queue.running = true
  const draining = queue
  services.background.run(async () => {
    try {
      while (draining.keys.length > 0) await removeBytes(services, backend, draining.keys.splice(0))
    } finally {
      draining.running = false
    }
  })
}
