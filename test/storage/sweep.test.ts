/**
 * The sweep removes bytes no row points at (stale staging files, orphaned versions) once they
 * are older than the grace period, and never touches live objects or fresh uploads in flight.
 */
import fs from 'node:fs/promises'
import { mkdtempSync, rmSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { Queryable } from '../../src/db/types.ts'
import { createFileBackend } from '../../src/storage/backend/file.ts'
import { s3Key, storageKeyOfS3 } from '../../src/storage/backend/s3-keys.ts'
import { sweepOrphans } from '../../src/storage/sweep.ts'
import { BIN } from '../support/cli.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startStorage, type StorageHarness } from './support.ts'

async function files(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort()
}

/** Counts the statements a sweep sends. */
function counting(database: Queryable): Queryable & { count: number } {
  const wrapped = {
    count: 0,
    query: ((sql: string, params?: readonly unknown[]) => {
      wrapped.count++
      return database.query(sql, params)
    }) as Queryable['query'],
    exec: (sql: string) => database.exec(sql),
    copyFrom: database.copyFrom.bind(database),
  }
  return wrapped
}

const hourAgo = () => new Date(Date.now() - 2 * 3600_000)
const NAMES = ['plain.txt', 'dir/sub/file', '../up', 'ünï cødé/😀', '%41@~x', ' lead space', 'a'.repeat(80), `${'é'.repeat(100)}/x`, 'b'.repeat(400)]

it('keyAt reads back the key a location holds, for hostile names; hashed long names and staging files give undefined', () => {
  const root = mkdtempSync(path.join(os.tmpdir(), 'keyat-'))
  const backend = createFileBackend(root)
  for (const name of NAMES) {
    const key = `bucket/${name}/v1`
    // Names with a segment longer than 240 escaped bytes are stored under a hash.
    const readable = !name.startsWith('é') && !name.startsWith('bbb')
    expect(backend.keyAt(backend.locate(key))).toBe(readable ? key : undefined)
    expect(storageKeyOfS3(s3Key(key))).toBe(Buffer.byteLength(key) <= 1024 ? key : undefined)
  }
  expect(backend.keyAt(backend.locate('bucket/empty-version/'))).toBe('bucket/empty-version/')
  expect(backend.keyAt(path.join(root, '.staging', 'abc'))).toBeUndefined()
  expect(backend.keyAt(path.join(root, 'stray-file'))).toBeUndefined()
  expect(backend.keyAt(path.join(root, 'b', 'n', 'not-a-version'))).toBeUndefined()
  expect(storageKeyOfS3('bucket/~long/abc')).toBeUndefined()
  expect(storageKeyOfS3('no-slashes')).toBeUndefined()
  rmSync(root, { recursive: true, force: true })
})

describeEachDatabase('storage sweep', (ctx) => {
  let h: StorageHarness
  beforeAll(async () => {
    h = await startStorage(ctx())
    await h.service.storage.createBucket('keep')
    await h.service.storage.from('keep').upload('a/live.txt', 'live')
    await h.service.storage.from('keep').upload('old-live.txt', 'old but live')
  })
  afterAll(async () => {
    await h?.app.close()
  })

  it('removes stale orphans only', async () => {
    const backend = createFileBackend(h.storageDir)
    const live = await files(h.storageDir)
    const hourAgo = new Date(Date.now() - 2 * 3600_000)
    // Live bytes that are old must stay.
    for (const file of live) await fs.utimes(file, hourAgo, hourAgo)
    await fs.mkdir(path.join(h.storageDir, '.staging'), { recursive: true })
    const staleStaging = path.join(h.storageDir, '.staging', 'killed-upload')
    const orphanVersion = backend.locate('keep/a/live.txt/00000000-0000-0000-0000-00000000dead')
    const freshOrphan = backend.locate('keep/in-flight.txt/00000000-0000-0000-0000-0000000000f1')
    for (const file of [staleStaging, orphanVersion, freshOrphan]) {
      await fs.mkdir(path.dirname(file), { recursive: true })
      await fs.writeFile(file, 'orphan')
    }
    for (const file of [staleStaging, orphanVersion]) await fs.utimes(file, hourAgo, hourAgo)

    const dry = await sweepOrphans(ctx().database, backend, { olderThanMs: 3600_000, dryRun: true })
    expect(dry).toEqual({ stored: live.length + 3, orphans: 2, removed: 0 })
    const report = await sweepOrphans(ctx().database, backend, { olderThanMs: 3600_000 })
    expect(report).toEqual({ stored: live.length + 3, orphans: 2, removed: 2 })
    expect(await files(h.storageDir)).toEqual([...live, freshOrphan].sort())
    expect(await (await h.service.storage.from('keep').download('a/live.txt')).data?.text()).toBe('live')
    expect(await (await h.service.storage.from('keep').download('old-live.txt')).data?.text()).toBe('old but live')
  })

  it('runs as `resolution storage sweep`', () => {
    if (!ctx().url) return // the CLI opens its own database: the server target covers it
    const result = spawnSync(process.execPath, [BIN, 'storage', 'sweep', '--dry-run', '--older-than', '0', '--database-url', ctx().url!], {
      env: { ...process.env, STORAGE_DIR: h.storageDir, RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'sweep-cli-')), LOG_LEVEL: 'error', JWT_SECRET: 'test-secret-with-at-least-32-characters-long' },
      encoding: 'utf8',
      timeout: 60_000,
    })
    expect(result.stderr).toBe('')
    expect(result.stdout).toMatch(/^storage sweep: \d+ stored item\(s\), 1 orphan\(s\), would remove 1\n$/)
  })

  it('works in batches: one row query per batch of stored items, orphans removed batch by batch; hashed long names kept when live', async () => {
    const bucket = h.service.storage.from('keep')
    const longName = `long/${'n'.repeat(300)}`
    for (const name of ['batch/1', 'batch/2', 'batch/3', 'batch/4', 'batch/5', 'batch/6', longName]) {
      const { error } = await bucket.upload(name, `bytes of ${name}`, { upsert: true })
      expect(error).toBeNull()
    }
    const backend = createFileBackend(h.storageDir)
    // What earlier tests left (the upload "in flight") goes first, so every file but ours is live.
    await sweepOrphans(ctx().database, backend, { olderThanMs: 0, now: Date.now() + 60_000 })
    const orphans = [1, 2, 3, 4, 5].map((i) => backend.locate(`keep/batch/${i}/00000000-0000-0000-0000-00000000000${i}`))
    orphans.push(backend.locate(`keep/${longName}/00000000-0000-0000-0000-00000000000f`))
    for (const file of orphans) {
      await fs.mkdir(path.dirname(file), { recursive: true })
      await fs.writeFile(file, 'orphan')
    }
    const live = (await files(h.storageDir)).filter((file) => !orphans.includes(file))
    for (const file of await files(h.storageDir)) await fs.utimes(file, hourAgo(), hourAgo())

    const database = counting(ctx().database)
    const report = await sweepOrphans(database, backend, { olderThanMs: 3600_000, batchSize: 4 })
    const stored = live.length + orphans.length
    expect(report).toEqual({ stored, orphans: orphans.length, removed: orphans.length })
    // One page of long-named rows, then one query per batch of 4 old items: not one per key.
    expect(database.count).toBe(1 + Math.ceil(stored / 4))
    expect(await files(h.storageDir)).toEqual(live)
    expect(await (await bucket.download(longName)).data?.text()).toBe(`bytes of ${longName}`)
  })
})
