/**
 * Where an upload's bytes are read from: on Node the request's own stream (`env.incoming`), in
 * runtimes without one (Lambda, `app.request`) the web body. Both keep every byte, raw and multipart.
 */
import { randomBytes } from 'node:crypto'
import { afterAll, beforeAll, expect, it } from 'vitest'
import { createApp } from '../../src/app.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startStorage, type StorageHarness } from './support.ts'

describeEachDatabase('storage upload bodies', (ctx) => {
  let h: StorageHarness
  beforeAll(async () => {
    h = await startStorage(ctx())
    await h.service.storage.createBucket('bodies')
  })
  afterAll(async () => {
    await h?.app.close()
  })

  const bytes = randomBytes(3 * 1024 * 1024 + 17)

  it('over Node HTTP (the request stream itself): raw and multipart bodies arrive whole', async () => {
    const raw = await h.fetch('/object/bodies/node-raw.bin', { method: 'POST', body: bytes, headers: { 'content-type': 'application/octet-stream' } })
    expect(raw.status).toBe(200)
    expect((await h.service.storage.from('bodies').upload('node-form.bin', new Blob([bytes]))).error).toBeNull()
    for (const name of ['node-raw.bin', 'node-form.bin']) {
      expect(Buffer.from(await (await h.fetch(`/object/bodies/${name}`)).arrayBuffer()).equals(bytes)).toBe(true)
    }
  })

  it('without a Node request (app.request, as on Lambda): the web body, whole', async () => {
    const app = createApp(h.app.services)
    const auth = { apikey: h.app.serviceRoleKey, authorization: `Bearer ${h.app.serviceRoleKey}` }
    const raw = await app.request('/storage/v1/object/bodies/web-raw.bin', { method: 'POST', body: bytes, headers: { ...auth, 'content-type': 'application/octet-stream' } })
    expect(raw.status).toBe(200)
    const form = new FormData()
    form.append('cacheControl', '60')
    form.append('', new Blob([bytes], { type: 'image/png' }))
    const multipart = await app.request('/storage/v1/object/bodies/web-form.bin', { method: 'POST', body: form, headers: auth })
    expect(multipart.status).toBe(200)
    for (const name of ['web-raw.bin', 'web-form.bin']) {
      expect(Buffer.from(await (await h.fetch(`/object/bodies/${name}`)).arrayBuffer()).equals(bytes)).toBe(true)
    }
    const info = await (await h.fetch('/object/info/bodies/web-form.bin')).json()
    expect(info).toMatchObject({ content_type: 'image/png', cache_control: 'max-age=60', size: bytes.length })
  })
})
