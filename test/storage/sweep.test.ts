/**
 * The sweep removes bytes no row points at (stale staging files, orphaned versions) once they
 * are older than the grace period, and never touches live objects or fresh uploads in flight.
 */
import fs from 'node:fs/promises'
import { mkdtempSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { spawnSync } from 'node:child_process'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createFileBackend } from '../../src/storage/backend/file.ts'
import { sweepOrphans } from '../../src/storage/sweep.ts'
import { BIN } from '../support/cli.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startStorage, type StorageHarness } from './support.ts'

async function files(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter((e) => e.isFile()).map((e) => path.join(e.parentPath, e.name)).sort()
}

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
})
