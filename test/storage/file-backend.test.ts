/**
 * The file-system backend on its own: staging then commit, nothing left by a failed or oversized
 * write, ranges, copy, and hostile keys that must stay inside the root.
 */
import { mkdtempSync, readdirSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { describe, expect, it } from 'vitest'
import { createFileBackend, fileSegment, filePath } from '../../src/storage/backend/file.ts'

class TooLarge extends Error {}

function tempRoot(): string {
  return mkdtempSync(path.join(os.tmpdir(), 'storage-backend-'))
}

async function filesUnder(dir: string): Promise<string[]> {
  const entries = await fs.readdir(dir, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => entry.isFile()).map((entry) => path.join(entry.parentPath, entry.name))
}

describe('file backend', () => {
  it('stages, commits, reads whole and ranged, stats, copies and removes', async () => {
    const root = tempRoot()
    const backend = createFileBackend(root)
    const staged = await backend.stage('b/dir/hello.txt/v1', Readable.from([Buffer.from('hello '), Buffer.from('world')]), { maxBytes: 100, tooLarge: () => new TooLarge() })
    expect(staged.size).toBe(11)
    expect(staged.etag).toBe('5eb63bbbe01eeed093cb22bb8f5acdc3')
    expect(await backend.stat('b/dir/hello.txt/v1')).toBeUndefined()
    await staged.commit()
    expect((await backend.stat('b/dir/hello.txt/v1'))?.size).toBe(11)
    expect(await text((await backend.read('b/dir/hello.txt/v1'))!)).toBe('hello world')
    expect(await text((await backend.read('b/dir/hello.txt/v1', { start: 6, end: 10 }))!)).toBe('world')
    await backend.copy('b/dir/hello.txt/v1', 'c/other/v2')
    expect(await text((await backend.read('c/other/v2'))!)).toBe('hello world')
    await backend.remove(['b/dir/hello.txt/v1', 'missing/key/v9'])
    expect(await backend.read('b/dir/hello.txt/v1')).toBeUndefined()
    // Emptied folders go too; only the copy remains.
    expect(readdirSync(root).sort()).toEqual(['.staging', 'c'])
  })

  it('a write past the limit fails with the given error and leaves no file', async () => {
    const root = tempRoot()
    const backend = createFileBackend(root)
    const body = Readable.from((function* () {
      for (let i = 0; i < 10; i++) yield Buffer.alloc(1000, 1)
    })())
    await expect(backend.stage('b/big/v1', body, { maxBytes: 4096, tooLarge: () => new TooLarge() })).rejects.toBeInstanceOf(TooLarge)
    expect(await filesUnder(root)).toEqual([])
  })

  it('a body that breaks off mid-way (a killed upload) leaves no file', async () => {
    const root = tempRoot()
    const backend = createFileBackend(root)
    const body = new Readable({ read() {} })
    body.push(Buffer.alloc(5000, 2))
    setTimeout(() => body.destroy(new Error('client went away')), 20)
    await expect(backend.stage('b/killed/v1', body, { maxBytes: 1e9, tooLarge: () => new TooLarge() })).rejects.toThrow('client went away')
    expect(await filesUnder(root)).toEqual([])
  })

  it('discard drops staged bytes', async () => {
    const root = tempRoot()
    const backend = createFileBackend(root)
    const staged = await backend.stage('b/x/v1', Readable.from([Buffer.from('x')]), { maxBytes: 10, tooLarge: () => new TooLarge() })
    await staged.discard()
    expect(await filesUnder(root)).toEqual([])
  })

  it.each([
    ['../../etc/passwd'],
    ['..'],
    ['a/../../..'],
    ['./.'],
    ['nul\u0000byte'],
    ['back\\slash/..\\..'],
    ['日本語/ファイル.txt'],
    ['%2e%2e/%2F'],
    ['x'.repeat(1000)],
    ['a//b///c'],
  ])('key %j stays inside the root and round-trips', async (name) => {
    const root = tempRoot()
    const backend = createFileBackend(root)
    const key = `bucket/${name}/v1`
    const target = filePath(root, key)
    expect(target.startsWith(root + path.sep)).toBe(true)
    for (const part of path.relative(root, target).split(path.sep)) {
      expect(part).not.toBe('..')
      expect(Buffer.byteLength(part)).toBeLessThanOrEqual(241)
      expect(part).toMatch(/^[A-Za-z0-9_.%~@-]+$/)
    }
    const staged = await backend.stage(key, Readable.from([Buffer.from(name)]), { maxBytes: 10_000, tooLarge: () => new TooLarge() })
    await staged.commit()
    expect(await text((await backend.read(key))!)).toBe(name)
    const files = await filesUnder(root)
    expect(files).toEqual([target])
  })

  it('an object and a "folder" of the same name do not collide', async () => {
    const root = tempRoot()
    const backend = createFileBackend(root)
    for (const key of ['b/a/v1', 'b/a/b/v2']) {
      const staged = await backend.stage(key, Readable.from([Buffer.from(key)]), { maxBytes: 100, tooLarge: () => new TooLarge() })
      await staged.commit()
    }
    expect(await text((await backend.read('b/a/v1'))!)).toBe('b/a/v1')
    expect(await text((await backend.read('b/a/b/v2'))!)).toBe('b/a/b/v2')
  })

  it('segments are escaped to safe, distinct names', () => {
    expect(fileSegment('..')).toBe('%2E.')
    expect(fileSegment('.')).toBe('%2E')
    expect(fileSegment('')).toBe('%')
    expect(fileSegment('@v1')).toBe('%40v1')
    expect(fileSegment('a.b')).toBe('a.b')
    expect(fileSegment('x'.repeat(300))).not.toBe(fileSegment('x'.repeat(301)))
  })
})
