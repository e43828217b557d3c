/**
 * `Accept: application/geo+json` (postgrest-js `.geojson()`): with PostGIS the rows come back as
 * a FeatureCollection built by `ST_AsGeoJSON`; without it (PGlite, or a server without the
 * extension) the media type is PostgREST's 406 PGRST107. The PostGIS cases skip only where the
 * extension cannot be created.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { reloadSchemaCache } from '../../src/rest/schema-cache/index.ts'
import { describeEachDatabase } from '../support/databases.ts'
import { startRest, type RestHarness } from './support.ts'

const SHOPS = `
CREATE TABLE public.shops (id int PRIMARY KEY, address text, shop_geom extensions.geometry(POINT, 4326));
INSERT INTO public.shops VALUES (1, '1369 Cambridge St', 'SRID=4326;POINT(-71.10044 42.373695)'), (2, 'Nowhere', NULL);
GRANT SELECT ON public.shops TO anon, authenticated, service_role;
CREATE FUNCTION public.shops_near(max_id int) RETURNS SETOF public.shops LANGUAGE sql STABLE AS $$ SELECT * FROM public.shops WHERE id <= max_id $$;
`

const CAMBRIDGE = {
  type: 'Feature',
  geometry: { type: 'Point', coordinates: [-71.10044, 42.373695] },
  properties: { id: 1, address: '1369 Cambridge St' },
}

describeEachDatabase('application/geo+json', (ctx) => {
  let rest: RestHarness
  let postgis = false
  const geo = (path: string, init: RequestInit = {}) => rest.fetch(path, { ...init, headers: { accept: 'application/geo+json', ...(init.headers as Record<string, string>) } })

  beforeAll(async () => {
    rest = await startRest(ctx())
    try {
      await ctx().database.exec('CREATE SCHEMA IF NOT EXISTS extensions; CREATE EXTENSION IF NOT EXISTS postgis WITH SCHEMA extensions')
      postgis = true
    } catch {
      postgis = false // not installed here (PGlite has no PostGIS)
    }
    if (postgis) await ctx().database.exec(SHOPS)
    await reloadSchemaCache(ctx().database)
  })
  afterAll(async () => {
    await rest?.app.close()
  })

  it('without PostGIS the media type is not offered (406 PGRST107)', async (t) => {
    if (postgis) t.skip()
    const response = await geo('/messages')
    expect(response.status).toBe(406)
    expect(await response.json()).toMatchObject({ code: 'PGRST107', message: 'None of these media types are available: application/geo+json' })
    const viaClient = await rest.anon.from('messages').select().geojson()
    expect(viaClient.error?.code).toBe('PGRST107')
  })

  it('reads a table as a FeatureCollection (postgrest-js geojson())', async (t) => {
    if (!postgis) t.skip()
    const { data, error, status } = await rest.anon.from('shops').select().eq('id', 1).geojson()
    expect(error).toBeNull()
    expect(status).toBe(200)
    expect(data).toEqual({ type: 'FeatureCollection', features: [CAMBRIDGE] })
    const response = await geo('/shops?select=id,shop_geom&order=id')
    expect(response.headers.get('content-type')).toBe('application/geo+json; charset=utf-8')
    const body = await response.json()
    expect(body.features).toHaveLength(2)
    // A NULL geometry is whatever ST_AsGeoJSON makes of it (this PostGIS: {"type": null}).
    expect(body.features[1]).toMatchObject({ type: 'Feature', properties: { id: 2 } })
    expect(await (await geo('/shops?id=eq.99')).json()).toEqual({ type: 'FeatureCollection', features: [] })
  })

  it('works over a set-returning function, and refuses scalars and writes', async (t) => {
    if (!postgis) t.skip()
    const { data, error } = await rest.anon.rpc('shops_near', { max_id: 1 }).geojson()
    expect(error).toBeNull()
    expect(data).toEqual({ type: 'FeatureCollection', features: [CAMBRIDGE] })
    const scalar = await geo('/rpc/request_context')
    expect(scalar.status).toBe(406)
    const write = await geo('/shops', { method: 'POST', body: '{"id": 3}', headers: { 'content-type': 'application/json', prefer: 'return=representation' } })
    expect(write.status).toBe(406)
    expect((await write.json()).code).toBe('PGRST107')
  })
})
