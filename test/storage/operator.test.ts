/**
 * The operator's commands: `storage buckets|ls|cp|rm` act as service_role through the same
 * upload/remove code as /storage/v1, so what they write supabase-js reads back and what they
 * remove leaves no bytes. The storage functions run on both databases; the real binary runs
 * against the server database (it opens its own connection, as the sweep test does).
 */
import { mkdtempSync } from 'node:fs'
import fs from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { Readable } from 'node:stream'
import { text } from 'node:stream/consumers'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { createFileBackend } from '../../src/storage/backend/file.ts'
import { listPath, parseRemote, putObject, readObject, removeObjects } from '../../src/storage/operator.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { runBinary, startStorage, type StorageHarness } from './support.ts'

async function files(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true }).catch(() => [])
  return entries.filter((e) => e.isFile() && !e.parentPath.includes('.staging')).map((e) => path.relative(root, path.join(e.parentPath, e.name))).sort()
}

const put = { contentType: 'text/plain', cacheControl: 'no-cache', upsert: true }

describe('ss:/// paths', () => {
  it('parses the Supabase CLI notation and refuses anything else', () => {
    expect(parseRemote('ss:///')).toEqual({ bucket: '', path: '' })
    expect(parseRemote('ss:///avatars')).toEqual({ bucket: 'avatars', path: '' })
    expect(parseRemote('ss:///avatars/a/b.png')).toEqual({ bucket: 'avatars', path: 'a/b.png' })
    for (const bad of ['avatars/a.png', '/tmp/x', 'ss://avatars/a', 's3://avatars/a']) expect(() => parseRemote(bad)).toThrow(/not a storage path/)
    expect(() => parseRemote('ss:///bad\\bucket/a')).toThrow(/Bucket name invalid/)
    expect(() => parseRemote('ss:///b/nul\0name')).toThrow(/Invalid key/)
  })
})

describeEachDatabase('storage operator commands', (ctx) => {
  let h: StorageHarness
  beforeAll(async () => {
    h = await startStorage(ctx())
    await h.service.storage.createBucket('docs')
    await h.service.storage.createBucket('small', { public: false, fileSizeLimit: 10 })
  })
  afterAll(async () => {
    await h?.app.close()
  })

  it('puts, lists, reads and removes as service_role, rows and bytes together', async () => {
    const backend = createFileBackend(h.storageDir)
    const services = h.app.services
    await putObject(services, backend, parseRemote('ss:///docs/a/one.txt'), Readable.from([Buffer.from('one')]), put)
    await putObject(services, backend, parseRemote('ss:///docs/a/deep/two.txt'), Readable.from([Buffer.from('two!')]), put)
    await putObject(services, backend, parseRemote('ss:///docs/top.txt'), Readable.from([Buffer.from('top')]), put)
    // Through supabase-js: the same rows and bytes.
    expect(await (await h.service.storage.from('docs').download('a/deep/two.txt')).data?.text()).toBe('two!')

    expect(await listPath(services, parseRemote('ss:///docs'), false)).toEqual([
      { name: 'a/', folder: true, size: null },
      { name: 'top.txt', folder: false, size: 3 },
    ])
    expect((await listPath(services, parseRemote('ss:///docs/a'), true)).map((e) => e.name)).toEqual(['a/deep/two.txt', 'a/one.txt'])
    expect(await listPath(services, parseRemote('ss:///docs/top.txt'), false)).toEqual([{ name: 'top.txt', folder: false, size: 3 }])
    await expect(listPath(services, parseRemote('ss:///nope'), false)).rejects.toThrow(/Bucket not found/)

    const { body } = await readObject(services, backend, parseRemote('ss:///docs/a/one.txt'))
    expect(await text(body)).toBe('one')
    await expect(readObject(services, backend, parseRemote('ss:///docs/missing'))).rejects.toThrow(/Object not found/)

    // The bucket's limit holds for the operator too; nothing is left behind.
    const before = await files(h.storageDir)
    await expect(putObject(services, backend, parseRemote('ss:///small/big.txt'), Readable.from([Buffer.alloc(11)]), put)).rejects.toThrow(/maximum allowed size/)
    await expect(putObject(services, backend, parseRemote('ss:///docs/top.txt'), Readable.from([Buffer.from('x')]), { ...put, upsert: false })).rejects.toThrow(/already exists/)
    expect(await files(h.storageDir)).toEqual(before)

    expect(await removeObjects(services, backend, 'docs', ['a/one.txt', 'a/deep/two.txt', 'nope'])).toEqual(expect.arrayContaining(['a/one.txt', 'a/deep/two.txt']))
    expect(await files(h.storageDir)).toHaveLength(1)
    expect((await h.service.storage.from('docs').download('a/one.txt')).error).not.toBeNull()
  })

  describe('the resolution binary', () => {
    const work = mkdtempSync(path.join(os.tmpdir(), 'storage-cli-'))
    const cli = async (...argv: string[]) => {
      const withDb = argv.includes('--help') ? argv : [...argv, '--database-url', ctx().url!]
      // Asynchronous: the app under test lives in this process and must keep serving.
      return runBinary(['storage', ...withDb], {
        cwd: work,
        env: { ...process.env, STORAGE_DIR: h.storageDir, RESOLUTION_DATA_DIR: path.join(work, 'data'), LOG_LEVEL: 'error', JWT_SECRET: 'test-secret-with-at-least-32-characters-long' },
      })
    }

    it('has help on every command', async () => {
      if (ctx().target !== 'pglite') return // needs no database: once is enough
      const commands = ['buckets', 'ls', 'cp', 'rm', 'import', 'export', 'sweep']
      // Independent processes: started together, a spawn's start-up overlaps the others'.
      const results = await Promise.all(commands.map((command) => cli(command, '--help')))
      commands.forEach((command, i) => {
        expect(results[i]!.code, command).toBe(0)
        expect(results[i]!.stdout).toMatch(new RegExp(`Usage: resolution storage ${command}`))
      })
    })

    it('copies up, lists, copies down and removes', async () => {
      if (!ctx().url) return // the binary opens its own database: the server target covers it
      await fs.mkdir(path.join(work, 'site/img'), { recursive: true })
      await fs.writeFile(path.join(work, 'site/index.html'), '<h1>hi</h1>')
      await fs.writeFile(path.join(work, 'site/img/logo.svg'), '<svg/>')
      await fs.writeFile(path.join(work, 'note.txt'), 'a note')

      expect((await cli('buckets')).stdout).toBe('docs\tprivate\t-\t*\nsmall\tprivate\t10\t*\n')
      expect(await cli('cp', 'note.txt', 'ss:///docs/notes/')).toMatchObject({ code: 0, stdout: 'uploaded note.txt => ss:///docs/notes/note.txt\n' })
      expect((await cli('cp', '-r', 'site', 'ss:///docs/site')).code).toBe(0)
      expect((await cli('ls', 'ss:///docs')).stdout).toBe('notes/\nsite/\ntop.txt\n')
      expect((await cli('ls', '-r', 'ss:///docs/site')).stdout).toBe('6\tsite/img/logo.svg\n11\tsite/index.html\n')
      expect((await cli('ls')).stdout).toBe('docs/\nsmall/\n')

      // What the CLI wrote, supabase-js reads, with the type from the extension.
      const logo = await h.service.storage.from('docs').download('site/img/logo.svg')
      expect(await logo.data?.text()).toBe('<svg/>')
      expect(logo.data?.type).toBe('image/svg+xml')

      expect((await cli('cp', 'ss:///docs/notes/note.txt', 'back.txt')).code).toBe(0)
      expect(await fs.readFile(path.join(work, 'back.txt'), 'utf8')).toBe('a note')
      expect((await cli('cp', '-r', 'ss:///docs/site', 'mirror')).code).toBe(0)
      expect(await fs.readFile(path.join(work, 'mirror/img/logo.svg'), 'utf8')).toBe('<svg/>')
      // Into a folder that exists, as `supabase storage cp -r`: a folder named after the source.
      expect((await cli('cp', '-r', 'ss:///docs', 'mirror')).code).toBe(0)
      expect(await fs.readFile(path.join(work, 'mirror/docs/site/index.html'), 'utf8')).toBe('<h1>hi</h1>')
      expect((await cli('cp', 'ss:///docs/notes/note.txt', 'ss:///docs/copy/')).stdout).toBe('copied ss:///docs/notes/note.txt => ss:///docs/copy/note.txt\n')

      const rm = await cli('rm', 'ss:///docs/copy/note.txt', 'ss:///docs/ghost')
      expect(rm).toMatchObject({ code: 1, stdout: 'removed ss:///docs/copy/note.txt\n', stderr: 'not found: ss:///docs/ghost\n' })
      expect((await cli('rm', '-r', 'ss:///docs/site')).stdout).toBe('removed ss:///docs/site/img/logo.svg\nremoved ss:///docs/site/index.html\n')
      expect((await cli('ls', '-r', 'ss:///docs')).stdout).toBe('6\tnotes/note.txt\n3\ttop.txt\n')
      expect(await files(h.storageDir)).toHaveLength(2)
    })

    it('answers bad input with one line, never a stack', async () => {
      if (!ctx().url) return
      const cases: [string[], RegExp][] = [
        [['ls', 'ss:///nope'], /^resolution: NoSuchBucket: Bucket not found\n$/],
        [['ls', 'docs'], /is not a storage path: write ss:\/\/\/<bucket>\/<path>/],
        [['cp', 'a.txt', 'b.txt'], /one of <src> and <dst> must be a storage path/],
        [['cp', 'missing.txt', 'ss:///docs/'], /missing.txt: no such file/],
        [['cp', 'ss:///docs/ghost', 'x.txt'], /NoSuchKey: Object not found/],
        [['cp', '--no-overwrite', 'note.txt', 'ss:///docs/notes/'], /KeyAlreadyExists/],
        [['cp', 'site/index.html', 'ss:///small/'], /EntityTooLarge/],
        [['rm', 'ss:///docs'], /needs a bucket and an object name/],
      ]
      // None of them changes anything, so they run side by side.
      const results = await Promise.all(cases.map(([argv]) => cli(...argv)))
      cases.forEach(([argv, message], i) => {
        expect(results[i]!.code, argv.join(' ')).toBe(1)
        expect(results[i]!.stderr).toMatch(message)
        expect(results[i]!.stderr).not.toMatch(/\n\s+at /)
      })
    })

    it('refuses to download a hostile name outside the folder', async () => {
      if (!ctx().url) return
      const backend = createFileBackend(h.storageDir)
      await putObject(h.app.services, backend, parseRemote('ss:///docs/evil/../../escape.txt'), Readable.from([Buffer.from('x')]), put)
      const result = await cli('cp', '-r', 'ss:///docs/evil', 'jail')
      expect(result.code).toBe(1)
      expect(result.stderr).toMatch(/would be written outside jail/)
      await expect(fs.stat(path.join(work, 'escape.txt'))).rejects.toThrow(/ENOENT/)
    })
  })
})
