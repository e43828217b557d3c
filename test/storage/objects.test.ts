/**
 * Objects through supabase-js's storage client: upload (raw and multipart, upsert), download
 * (Range, ETag, download=), exists/info, list, move, copy, remove, public URLs, limits, hostile
 * names, concurrent uploads and a killed upload — with the bytes on disk checked after each.
 */
import fs from 'node:fs/promises'
import path from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { describeEachDatabase } from '../support/databases.ts'
import { startStorage, type StorageHarness } from './support.ts'

async function objectFiles(root: string): Promise<string[]> {
  const entries = await fs.readdir(root, { recursive: true, withFileTypes: true })
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(root, path.join(entry.parentPath, entry.name)))
}

describeEachDatabase('storage objects', (ctx) => {
  let h: StorageHarness
  beforeAll(async () => {
    h = await startStorage(ctx())
    await h.service.storage.createBucket('docs')
    await h.service.storage.createBucket('other')
    await h.service.storage.createBucket('pub', { public: true })
    await h.service.storage.createBucket('strict', { public: false, fileSizeLimit: 1000, allowedMimeTypes: ['image/*', 'text/plain'] })
  })
  afterAll(async () => {
    await h?.app.close()
  })

  describe('upload and download', () => {
    it('a raw upload keeps its type, cache control and metadata; download, info and exists see it', async () => {
      const files = h.service.storage.from('docs')
      const up = await files.upload('notes/hello.txt', Buffer.from('hello world'), { contentType: 'text/markdown', cacheControl: '60', metadata: { lang: 'en' } })
      expect(up.error).toBeNull()
      expect(up.data).toMatchObject({ path: 'notes/hello.txt', fullPath: 'docs/notes/hello.txt' })
      expect(up.data?.id).toMatch(/^[0-9a-f-]{36}$/)

      const down = await files.download('notes/hello.txt')
      expect(await down.data?.text()).toBe('hello world')
      expect(down.data?.type).toBe('text/markdown')

      const info = await files.info('notes/hello.txt')
      expect(info.error).toBeNull()
      expect(info.data).toMatchObject({ name: 'notes/hello.txt', bucketId: 'docs', size: 11, contentType: 'text/markdown', cacheControl: 'max-age=60', metadata: { lang: 'en' } })
      expect(info.data?.etag).toBe('"5eb63bbbe01eeed093cb22bb8f5acdc3"')

      expect((await files.exists('notes/hello.txt')).data).toBe(true)
      expect((await files.exists('notes/absent.txt')).data).toBe(false)
      const missing = await files.download('notes/absent.txt')
      expect(missing.error).not.toBeNull()
    })

    it('a Blob goes up as a multipart form', async () => {
      const files = h.service.storage.from('docs')
      const up = await files.upload('blob.json', new Blob([JSON.stringify({ a: 1 })], { type: 'application/json' }), { metadata: { kind: 'blob' } })
      expect(up.error).toBeNull()
      const info = await files.info('blob.json')
      expect(info.data).toMatchObject({ contentType: 'application/json', size: 7, cacheControl: 'max-age=3600', metadata: { kind: 'blob' } })
      expect(await (await files.download('blob.json')).data?.text()).toBe('{"a":1}')
    })

    it('Range, ETag / If-None-Match and download= over HTTP', async () => {
      await h.service.storage.from('docs').upload('range.txt', Buffer.from('0123456789'), { contentType: 'text/plain' })
      const part = await h.fetch('/object/docs/range.txt', { headers: { range: 'bytes=2-5' } })
      expect(part.status).toBe(206)
      expect(part.headers.get('content-range')).toBe('bytes 2-5/10')
      expect(await part.text()).toBe('2345')
      const tail = await h.fetch('/object/docs/range.txt', { headers: { range: 'bytes=-3' } })
      expect(await tail.text()).toBe('789')
      const bad = await h.fetch('/object/docs/range.txt', { headers: { range: 'bytes=20-30' } })
      expect(bad.status).toBe(416)
      expect((await bad.json()).code).toBe('InvalidRange')

      const full = await h.fetch('/object/docs/range.txt')
      const etag = full.headers.get('etag')!
      expect(etag).toMatch(/^"[0-9a-f]{32}"$/)
      await full.arrayBuffer()
      const again = await h.fetch('/object/docs/range.txt', { headers: { 'if-none-match': etag } })
      expect(again.status).toBe(304)

      const named = await h.fetch('/object/docs/range.txt?download=digits%20%C3%A9.txt')
      expect(named.headers.get('content-disposition')).toBe(`attachment; filename="digits _.txt"; filename*=UTF-8''digits%20%C3%A9.txt`)
      await named.arrayBuffer()
      const head = await h.fetch('/object/docs/range.txt', { method: 'HEAD' })
      expect(head.status).toBe(200)
      expect(head.headers.get('content-length')).toBe('10')
    })

    it('upload without upsert refuses a taken name (409); upsert and update replace it, old bytes removed', async () => {
      const files = h.service.storage.from('other')
      await files.upload('same.txt', 'one')
      const taken = await files.upload('same.txt', 'two')
      expect(taken.error?.message).toBe('The resource already exists')
      expect((taken.error as unknown as { statusCode: string }).statusCode).toBe('409')
      const firstId = (await files.info('same.txt')).data?.id
      const replaced = await files.upload('same.txt', 'three', { upsert: true })
      expect(replaced.error).toBeNull()
      expect(replaced.data?.id).toBe(firstId)
      expect(await (await files.download('same.txt')).data?.text()).toBe('three')
      const updated = await files.update('same.txt', 'four!')
      expect(updated.error).toBeNull()
      expect(await (await files.download('same.txt')).data?.text()).toBe('four!')
      // The replaced versions' bytes go after the responses.
      await h.app.services.background.idle()
      const onDisk = (await objectFiles(h.storageDir)).filter((file) => file.startsWith(`other${path.sep}same.txt`))
      expect(onDisk).toHaveLength(1)
    })
  })

  describe('list, move, copy, remove', () => {
    beforeAll(async () => {
      const files = h.service.storage.from('other')
      for (const name of ['list/a.txt', 'list/b.txt', 'list/C.png', 'list/sub/d.txt', 'list/sub/deeper/e.txt']) await files.upload(name, name)
    })

    it('lists one level: folders with a null id, files with their metadata', async () => {
      const { data, error } = await h.service.storage.from('other').list('list')
      expect(error).toBeNull()
      expect(data?.map((entry) => [entry.name, entry.id === null])).toEqual([
        ['C.png', false],
        ['a.txt', false],
        ['b.txt', false],
        ['sub', true],
      ])
      expect(data?.find((entry) => entry.name === 'a.txt')?.metadata).toMatchObject({ size: 10, mimetype: 'text/plain;charset=UTF-8' })
      expect((await h.service.storage.from('other').list('list/sub')).data?.map((e) => e.name)).toEqual(['deeper', 'd.txt'].sort((x, y) => (x < y ? -1 : 1)))
    })

    it('limit, offset, sortBy and search', async () => {
      const files = h.service.storage.from('other')
      expect((await files.list('list', { limit: 2, offset: 1 })).data?.map((e) => e.name)).toEqual(['a.txt', 'b.txt'])
      expect((await files.list('list', { sortBy: { column: 'name', order: 'desc' } })).data?.map((e) => e.name)).toEqual(['sub', 'b.txt', 'a.txt', 'C.png'])
      expect((await files.list('list', { search: 'c' })).data?.map((e) => e.name)).toEqual(['C.png'])
      const bad = await files.list('list', { sortBy: { column: 'size; drop table x', order: 'asc' } })
      expect(bad.error).not.toBeNull()
      expect((bad.error as unknown as { statusCode: string }).statusCode).toBe('400')
    })

    it('listV2: folders with a delimiter, every object without, cursor pages in the asked order', async () => {
      const files = h.service.storage.from('other')
      const folded = await files.listV2({ prefix: 'list/', with_delimiter: true })
      expect(folded.error).toBeNull()
      expect(folded.data?.folders).toEqual([{ name: 'list/sub/', key: 'list/sub' }])
      expect(folded.data?.objects.map((o) => o.name)).toEqual(['list/C.png', 'list/a.txt', 'list/b.txt'])
      const flat = await files.listV2({ prefix: 'list/sub' })
      expect(flat.data?.objects.map((o) => o.name)).toEqual(['list/sub/d.txt', 'list/sub/deeper/e.txt'])
      const seen: string[] = []
      let cursor: string | undefined
      for (let page = 0; page < 10; page++) {
        const res = await files.listV2({ prefix: 'list/', limit: 2, sortBy: { column: 'name', order: 'desc' }, ...(cursor ? { cursor } : {}) })
        seen.push(...(res.data?.objects ?? []).map((o) => o.name))
        if (!res.data?.hasNext) break
        cursor = res.data.nextCursor
      }
      expect(seen).toEqual(['list/sub/deeper/e.txt', 'list/sub/d.txt', 'list/b.txt', 'list/a.txt', 'list/C.png'])
      const forged = await files.listV2({ prefix: 'list/', cursor: 'not-a-cursor' })
      expect((forged.error as unknown as { statusCode: string }).statusCode).toBe('400')
    })

    it('moves within and across buckets; copies across buckets; the destination taken is 409', async () => {
      const files = h.service.storage.from('other')
      await files.upload('mv/src.txt', 'moving')
      const moved = await files.move('mv/src.txt', 'mv/dst.txt')
      expect(moved.data).toEqual({ message: 'Successfully moved' })
      expect((await files.exists('mv/src.txt')).data).toBe(false)
      expect(await (await files.download('mv/dst.txt')).data?.text()).toBe('moving')

      const across = await files.move('mv/dst.txt', 'arrived.txt', { destinationBucket: 'docs' })
      expect(across.error).toBeNull()
      expect(await (await h.service.storage.from('docs').download('arrived.txt')).data?.text()).toBe('moving')

      const copied = await h.service.storage.from('docs').copy('arrived.txt', 'copies/one.txt', { destinationBucket: 'other' })
      expect(copied.data).toEqual({ path: 'other/copies/one.txt' })
      expect(await (await files.download('copies/one.txt')).data?.text()).toBe('moving')
      expect(await (await h.service.storage.from('docs').download('arrived.txt')).data?.text()).toBe('moving')

      const clash = await h.service.storage.from('docs').copy('arrived.txt', 'copies/one.txt', { destinationBucket: 'other' })
      expect(clash.error?.message).toBe('The resource already exists')
      const ghost = await files.move('mv/none.txt', 'mv/x.txt')
      expect(ghost.error?.message).toBe('Object not found')
      const noBucket = await files.copy('copies/one.txt', 'x.txt', { destinationBucket: 'no-such-bucket' })
      expect(noBucket.error?.message).toBe('Bucket not found')
      // Every byte file belongs to a row: the moved-away bytes are gone.
      const rows = await ctx().database.query<{ n: number }>("SELECT count(*)::int AS n FROM storage.objects")
      expect((await objectFiles(h.storageDir)).filter((f) => !f.startsWith('.staging'))).toHaveLength(rows.rows[0]!.n)
    })

    it('removes several objects and answers with the removed rows', async () => {
      const files = h.service.storage.from('other')
      await files.upload('rm/1.txt', '1')
      await files.upload('rm/2.txt', '2')
      const removed = await files.remove(['rm/1.txt', 'rm/2.txt', 'rm/never.txt'])
      expect(removed.error).toBeNull()
      expect(removed.data?.map((o) => o.name).sort()).toEqual(['rm/1.txt', 'rm/2.txt'])
      expect((await files.list('rm')).data).toEqual([])
    })
  })

  describe('public URLs', () => {
    it('serve objects of public buckets without any key, and nothing of private ones', async () => {
      await h.service.storage.from('pub').upload('logo.svg', '<svg/>', { contentType: 'image/svg+xml' })
      const url = h.service.storage.from('pub').getPublicUrl('logo.svg').data.publicUrl
      const response = await fetch(url)
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('image/svg+xml')
      expect(await response.text()).toBe('<svg/>')

      await h.service.storage.from('docs').upload('secret.txt', 'secret')
      const hidden = await fetch(h.service.storage.from('docs').getPublicUrl('secret.txt').data.publicUrl)
      expect(hidden.status).toBe(400)
      expect(await hidden.json()).toMatchObject({ statusCode: '404', message: 'Bucket not found' })
    })
  })

  describe('limits and names', () => {
    it('refuses an object over the bucket limit (413) and a type it does not allow (415), keeping nothing', async () => {
      const before = await objectFiles(h.storageDir)
      const big = await h.service.storage.from('strict').upload('big.txt', Buffer.alloc(1001, 97), { contentType: 'text/plain' })
      expect(big.error?.message).toBe('The object exceeded the maximum allowed size')
      expect((big.error as unknown as { statusCode: string }).statusCode).toBe('413')
      const blob = await h.service.storage.from('strict').upload('big-blob.txt', new Blob([Buffer.alloc(5000, 97)], { type: 'text/plain' }))
      expect((blob.error as unknown as { statusCode: string }).statusCode).toBe('413')
      const jpeg = await h.service.storage.from('strict').upload('pic.jpg', Buffer.from('x'), { contentType: 'image/jpeg' })
      expect(jpeg.error).toBeNull()
      const pdf = await h.service.storage.from('strict').upload('doc.pdf', Buffer.from('x'), { contentType: 'application/pdf' })
      expect(pdf.error?.message).toBe('mime type application/pdf is not supported')
      expect((pdf.error as unknown as { statusCode: string }).statusCode).toBe('415')
      const after = (await objectFiles(h.storageDir)).filter((f) => !before.includes(f))
      expect(after).toEqual([expect.stringMatching(/^strict/)])
      expect((await h.service.storage.from('strict').list()).data?.map((e) => e.name)).toEqual(['pic.jpg'])
    })

    it('hostile names: ../ is a name that stays in the root, NUL and overlong names are refused, unicode works', async () => {
      const files = h.service.storage.from('docs')
      // URLs resolve dot segments before they leave the client, so a `..` name arrives escaped
      // (`..%2F`) or in a JSON body (move/copy); both are names like any other.
      const dotdot = await h.fetch('/object/docs/..%2F..%2F..%2Fescape.txt', { method: 'POST', body: 'inside' })
      expect(dotdot.status).toBe(200)
      expect(await dotdot.json()).toMatchObject({ Key: 'docs/../../../escape.txt' })
      expect(await (await h.fetch('/object/docs/..%2F..%2F..%2Fescape.txt')).text()).toBe('inside')
      const moved = await h.service.storage.from('docs').move('../../../escape.txt', '../../../../../tmp/escape-moved.txt', { destinationBucket: 'other' })
      expect(moved.error).toBeNull()
      const listed = await h.fetch('/object/list/other', { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ prefix: '../../../../../tmp' }) })
      expect((await listed.json()).map((e: { name: string }) => e.name)).toEqual(['escape-moved.txt'])
      const all = await objectFiles(h.storageDir)
      expect(all.every((file) => !file.startsWith('..'))).toBe(true)
      await expect(fs.access(path.join(h.storageDir, '..', 'escape.txt'))).rejects.toThrow()

      const nul = await h.fetch('/object/docs/nul%00byte.txt', { method: 'POST', body: 'x' })
      expect(nul.status).toBe(400)
      expect((await nul.json()).code).toBe('InvalidKey')
      const long = await files.upload('x'.repeat(1025), 'x')
      expect((long.error as unknown as { statusCode: string }).statusCode).toBe('400')

      const unicode = await files.upload('日本語/ファイル 1.txt', 'unicode')
      expect(unicode.error).toBeNull()
      expect(await (await files.download('日本語/ファイル 1.txt')).data?.text()).toBe('unicode')
      expect((await files.list('日本語')).data?.map((e) => e.name)).toEqual(['ファイル 1.txt'])
    })

    it('a bucket that does not exist is "Bucket not found" for uploads', async () => {
      const up = await h.service.storage.from('ghost').upload('a.txt', 'a')
      expect(up.error?.message).toBe('Bucket not found')
    })
  })

  describe('concurrency and failures', () => {
    it('concurrent uploads of one path: one wins, the rest get 409; concurrent upserts all succeed, one version stays', async () => {
      const files = h.service.storage.from('other')
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => files.upload('race.txt', `v${i}`)))
      expect(results.filter((r) => r.error === null)).toHaveLength(1)
      expect(results.filter((r) => r.error?.message === 'The resource already exists')).toHaveLength(5)

      const upserts = await Promise.all(Array.from({ length: 6 }, (_, i) => files.upload('race-upsert.txt', `u${i}`, { upsert: true })))
      expect(upserts.every((r) => r.error === null)).toBe(true)
      const text = await (await files.download('race-upsert.txt')).data?.text()
      expect(text).toMatch(/^u\d$/)
      await h.app.services.background.idle() // the replaced versions go after the responses
      const onDisk = (await objectFiles(h.storageDir)).filter((f) => f.startsWith(`other${path.sep}race-upsert.txt`))
      expect(onDisk).toHaveLength(1)
    })

    it('a killed upload leaves no row and no bytes', async () => {
      const controller = new AbortController()
      let sent = 0
      const body = new ReadableStream<Uint8Array>({
        pull(stream) {
          if (sent >= 256 * 1024) {
            controller.abort()
            return
          }
          sent += 64 * 1024
          stream.enqueue(new Uint8Array(64 * 1024))
        },
      })
      const upload = h.fetch('/object/other/killed.bin', { method: 'POST', body, signal: controller.signal, headers: { 'content-type': 'application/octet-stream' }, duplex: 'half' } as RequestInit)
      await expect(upload).rejects.toThrow()
      // Let the server notice the broken request.
      for (let i = 0; i < 50; i++) {
        const staging = await fs.readdir(path.join(h.storageDir, '.staging')).catch(() => [])
        if (staging.length === 0) break
        await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(await fs.readdir(path.join(h.storageDir, '.staging'))).toEqual([])
      expect((await objectFiles(h.storageDir)).some((f) => f.includes('killed'))).toBe(false)
      const rows = await ctx().database.query("SELECT 1 FROM storage.objects WHERE name = 'killed.bin'")
      expect(rows.rows).toHaveLength(0)
    })
  })
})
