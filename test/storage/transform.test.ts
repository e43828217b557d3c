/**
 * Image transformations (`/render/image/…`) through supabase-js: `download`, `getPublicUrl` and
 * `createSignedUrl` with `transform`, on a real JPEG made here with sharp and read back with it —
 * resize modes, size limits, quality, format negotiation, RLS, bad options, non-images, and the
 * switch that turns the feature off.
 */
import sharp from 'sharp'
import { afterAll, beforeAll, expect, it } from 'vitest'
import type { SupabaseClient } from '@supabase/supabase-js'
import { describeEachDatabase } from '../support/databases.ts'
import { ALICE, BOB, POLICIES, startStorage, type StorageHarness } from './support.ts'

const PHOTO = `${ALICE}/photo.jpg`

/** 400×300: the top third red, the rest blue, so a crop (cover) and a squeeze (fill) look different. */
async function makePhoto(): Promise<Buffer> {
  const blue = { r: 0, g: 0, b: 255 }
  const red = await sharp({ create: { width: 400, height: 100, channels: 3, background: { r: 255, g: 0, b: 0 } } }).png().toBuffer()
  return sharp({ create: { width: 400, height: 300, channels: 3, background: blue } })
    .composite([{ input: red, top: 0, left: 0 }])
    .jpeg({ quality: 95 })
    .toBuffer()
}

async function imageOf(body: ArrayBuffer | Blob) {
  const bytes = Buffer.from(body instanceof Blob ? await body.arrayBuffer() : body)
  const { format, width, height } = await sharp(bytes).metadata()
  return { format, width, height, bytes }
}

/** The red channel of the pixel at (x, y). */
async function redAt(bytes: Buffer, x: number, y: number): Promise<number> {
  const { data, info } = await sharp(bytes).raw().toBuffer({ resolveWithObject: true })
  return data[(y * info.width + x) * info.channels]!
}

describeEachDatabase('storage image transformations', (ctx) => {
  let h: StorageHarness
  let alice: SupabaseClient
  let bob: SupabaseClient
  beforeAll(async () => {
    await ctx().database.exec(POLICIES)
    h = await startStorage(ctx())
    await h.service.storage.createBucket('private')
    await h.service.storage.createBucket('pictures', { public: true })
    alice = await h.user(ALICE)
    bob = await h.user(BOB)
    const photo = await makePhoto()
    expect((await alice.storage.from('private').upload(PHOTO, photo, { contentType: 'image/jpeg', cacheControl: '60' })).error).toBeNull()
    expect((await h.service.storage.from('pictures').upload('photo.jpg', photo, { contentType: 'image/jpeg' })).error).toBeNull()
    expect((await alice.storage.from('private').upload(`${ALICE}/notes.txt`, 'not an image', { contentType: 'text/plain' })).error).toBeNull()
  })
  afterAll(async () => {
    await h?.app.close()
  })

  const render = (query: string, headers: Record<string, string> = {}) => h.fetch(`/render/image/authenticated/private/${PHOTO}?${query}`, { headers })

  it('download({ transform }) renders as the caller: cover by default, the source format for a client that does not ask for WebP', async () => {
    const { data, error } = await alice.storage.from('private').download(PHOTO, { transform: { width: 100, height: 100 } })
    expect(error).toBeNull()
    expect(data!.type).toBe('image/jpeg')
    expect(await imageOf(data!)).toMatchObject({ format: 'jpeg', width: 100, height: 100 })
  })

  it('each resize mode gives its dimensions: cover crops, contain fits inside, fill stretches; one side keeps the ratio', async () => {
    const cover = await imageOf(await (await render('width=200&height=50&resize=cover')).arrayBuffer())
    const contain = await imageOf(await (await render('width=200&height=50&resize=contain')).arrayBuffer())
    const fill = await imageOf(await (await render('width=200&height=50&resize=fill')).arrayBuffer())
    const oneSide = await imageOf(await (await render('width=100')).arrayBuffer())
    expect([cover.width, cover.height]).toEqual([200, 50])
    expect([contain.width, contain.height]).toEqual([67, 50])
    expect([fill.width, fill.height]).toEqual([200, 50])
    expect([oneSide.width, oneSide.height]).toEqual([100, 75])
    // The top rows: cover kept the blue middle, fill squeezed the red top third in.
    expect(await redAt(cover.bytes, 100, 2)).toBeLessThan(60)
    expect(await redAt(fill.bytes, 100, 2)).toBeGreaterThan(200)
  })

  it('reports what it did, clamps sizes to 2000 and never enlarges', async () => {
    const response = await render('width=5000&height=0&resize=contain&quality=50')
    expect(response.status).toBe(200)
    expect(response.headers.get('x-transformations')).toBe('width:2000,resizing_type:fit,quality:50')
    expect(response.headers.get('cache-control')).toBe('max-age=60')
    expect(await imageOf(await response.arrayBuffer())).toMatchObject({ width: 400, height: 300 })
  })

  it('format: WebP when Accept allows it, origin keeps JPEG, avif on request; quality changes the bytes', async () => {
    const negotiated = await render('width=100', { accept: 'image/avif,image/webp,*/*' })
    expect(negotiated.headers.get('content-type')).toBe('image/webp')
    expect(negotiated.headers.get('vary')).toBe('Accept')
    expect((await imageOf(await negotiated.arrayBuffer())).format).toBe('webp')
    const origin = await render('width=100&format=origin', { accept: 'image/webp' })
    expect(origin.headers.get('content-type')).toBe('image/jpeg')
    expect((await imageOf(await origin.arrayBuffer())).format).toBe('jpeg')
    const avif = await render('width=100&format=avif')
    expect(avif.headers.get('content-type')).toBe('image/avif')
    expect((await imageOf(await avif.arrayBuffer())).format).toBe('heif')
    const low = (await (await render('width=300&quality=20')).arrayBuffer()).byteLength
    const high = (await (await render('width=300&quality=100')).arrayBuffer()).byteLength
    expect(low).toBeLessThan(high)
  })

  it('honours If-None-Match with the source ETag and download=', async () => {
    const first = await render('width=50&download=small.jpg')
    expect(first.headers.get('content-disposition')).toContain('filename="small.jpg"')
    const etag = first.headers.get('etag')!
    expect(etag).toBeTruthy()
    expect((await render('width=50', { 'if-none-match': etag })).status).toBe(304)
  })

  it("another user gets the download's 'not found', anon too", async () => {
    const asBob = await bob.storage.from('private').download(PHOTO, { transform: { width: 100 } })
    expect(asBob.data).toBeNull()
    expect((asBob.error as unknown as { status?: number }).status).toBe(400)
    const raw = await h.fetch(`/render/image/authenticated/private/${PHOTO}?width=100`, { headers: { apikey: h.app.anonKey } })
    expect(raw.status).toBe(400)
    expect(await raw.json()).toMatchObject({ statusCode: '404', code: 'NoSuchKey' })
  })

  it('getPublicUrl({ transform }) renders public buckets without a key, and only those', async () => {
    const { data } = h.anon.storage.from('pictures').getPublicUrl('photo.jpg', { transform: { width: 120, height: 120, resize: 'contain' } })
    expect(data.publicUrl).toContain('/render/image/public/pictures/photo.jpg?width=120&height=120&resize=contain')
    const response = await fetch(data.publicUrl)
    expect(response.status).toBe(200)
    expect(await imageOf(await response.arrayBuffer())).toMatchObject({ width: 120, height: 90 })
    const privateOne = await fetch(`${h.app.url}/storage/v1/render/image/public/private/${PHOTO}?width=10`)
    expect(await privateOne.json()).toMatchObject({ code: 'NoSuchBucket' })
  })

  it('createSignedUrl({ transform }) signs the options into the token: the URL renders them and its query cannot change them', async () => {
    const { data, error } = await alice.storage.from('private').createSignedUrl(PHOTO, 60, { transform: { width: 200, height: 200, quality: 60 } })
    expect(error).toBeNull()
    expect(data!.signedUrl).toContain('/render/image/sign/private/')
    const response = await fetch(data!.signedUrl)
    expect(response.status).toBe(200)
    expect(Number(response.headers.get('content-length'))).toBeGreaterThan(0)
    expect(response.headers.get('x-transformations')).toBe('height:200,width:200,resizing_type:fill,quality:60')
    expect(response.headers.get('expires')).toBeTruthy()
    expect(await imageOf(await response.arrayBuffer())).toMatchObject({ width: 200, height: 200 })
    const tampered = await fetch(`${data!.signedUrl}&width=10&height=10`)
    expect(await imageOf(await tampered.arrayBuffer())).toMatchObject({ width: 200, height: 200 })
    // The same token on the plain signed route serves the original bytes.
    const plain = await fetch(data!.signedUrl.replace('/render/image/sign/', '/object/sign/'))
    expect(await imageOf(await plain.arrayBuffer())).toMatchObject({ width: 400, height: 300 })
    // Without transform it stays a plain signed URL.
    const untransformed = await alice.storage.from('private').createSignedUrl(PHOTO, 60, { transform: {} })
    expect(untransformed.data!.signedUrl).toContain('/object/sign/private/')
  })

  it('renders beyond the two that run at once wait their turn and all complete, failures included', async () => {
    const widths = [10, 20, 30, 40, 50, 60]
    const responses = await Promise.all([...widths.map((w) => render(`width=${w}&resize=fill&height=${w}`)), h.fetch(`/render/image/authenticated/private/${ALICE}/notes.txt?width=10`)])
    for (const [i, w] of widths.entries()) expect((await sharp(Buffer.from(await responses[i]!.arrayBuffer())).metadata()).width).toBe(w)
    expect(responses.at(-1)!.status).toBe(400)
    expect((await render('width=70')).status).toBe(200) // and the slots were all given back
  })

  it('bad options are refused with InvalidRequest (400), as storage-api validates them', async () => {
    for (const query of ['width=-1', 'height=abc', 'resize=stretch', 'quality=5', 'quality=101', 'format=gif']) {
      const response = await render(query)
      expect(response.status, query).toBe(400)
      expect(await response.json(), query).toMatchObject({ statusCode: '400', code: 'InvalidRequest' })
    }
    const signed = await alice.storage.from('private').createSignedUrl(PHOTO, 60, { transform: { width: 100, resize: 'stretch' as 'fill' } })
    expect(signed.error).not.toBeNull()
  })

  it('a non-image and an oversized image are 400s with storage-api messages, not 500s', async () => {
    const text = await h.fetch(`/render/image/authenticated/private/${ALICE}/notes.txt?width=10`)
    expect(text.status).toBe(400)
    expect(await text.json()).toMatchObject({ code: 'InvalidRequest', message: 'The source image is invalid or unsupported for rendering' })
    // An SVG is a document, not pixels (it may name other files): refused like a non-image.
    const svg = '<svg xmlns="http://www.w3.org/2000/svg" xmlns:xlink="http://www.w3.org/1999/xlink" width="40" height="40"><image xlink:href="file:///etc/passwd" width="40" height="40"/></svg>'
    expect((await h.service.storage.from('pictures').upload('drawing.svg', svg, { contentType: 'image/svg+xml' })).error).toBeNull()
    const drawing = await fetch(h.anon.storage.from('pictures').getPublicUrl('drawing.svg', { transform: { width: 10 } }).data.publicUrl)
    expect(drawing.status).toBe(400)
    expect(await drawing.json()).toMatchObject({ code: 'InvalidRequest', message: 'The source image is invalid or unsupported for rendering' })
    // 8000×7000 = 56 MP, over the 50 MP limit: refused from its header, before decoding.
    const huge = await sharp({ create: { width: 8000, height: 7000, channels: 3, background: '#fff' } }).png({ compressionLevel: 1 }).toBuffer()
    expect((await h.service.storage.from('pictures').upload('huge.png', huge, { contentType: 'image/png' })).error).toBeNull()
    const response = await fetch(h.anon.storage.from('pictures').getPublicUrl('huge.png', { transform: { width: 10 } }).data.publicUrl)
    expect(response.status).toBe(400)
    expect(await response.json()).toMatchObject({ code: 'InvalidRequest', message: 'The source image resolution is too large to process' })
  })

  it('STORAGE_IMAGE_TRANSFORMATION=false answers 501 and signs plain URLs', async () => {
    const off = await startStorage(ctx(), { STORAGE_IMAGE_TRANSFORMATION: 'false' })
    try {
      const response = await off.fetch(`/render/image/authenticated/private/${PHOTO}?width=10`)
      expect(response.status).toBe(501)
      expect(await response.json()).toMatchObject({ code: 'NotSupported' })
      const { data } = await off.service.storage.from('private').createSignedUrl(PHOTO, 60, { transform: { width: 10 } })
      expect(data!.signedUrl).toContain('/object/sign/private/')
    } finally {
      await off.app.close()
    }
  })
})
