/**
 * Issue 5 figures: GET one row by primary key with an authenticated JWT under an RLS policy,
 * through resolution's /rest/v1 versus a minimal `node:http` + `pg` server that verifies the
 * same JWT and runs the same transaction (BEGIN READ ONLY, the same set_config calls, the same
 * JSON-building SELECT, COMMIT) with the same pool size. Also a read with a one-to-many embed of
 * 10 children, and the same on the embedded database (PGlite) against a node:http + PGlite
 * baseline making the same four calls. Servers run in child processes; the load generator is
 * this process. Each figure at 1, 16 and 32 connections (what one user, moderate and heavy load
 * see), with PostgreSQL on loopback and behind a proxy adding 0.5 ms each way (a database on
 * another host, as on AWS). Baseline and resolution alternate short rounds.
 *
 *   node --import tsx bench/rest-read.ts   # BENCH_SECONDS=5 (per round) BENCH_ROUNDS=3 BENCH_CONCURRENCY=1,16,32 BENCH_LATENCY_MS=0,0.5 BENCH_POOL=10
 *   BENCH_DATABASE_URL=postgres://… BENCH_ONLY=postgresql|pglite BENCH_SCENARIO=single|embed node --import tsx bench/rest-read.ts
 * Each line also gives each server's CPU per request (ms, from /proc; on PGlite the engine's
 * work is in the server process): on a busy machine rates drift with the load, CPU much less.
 *   BENCH_BASE_TREE=/path/to/other/checkout …   # also that tree's service (`base`) in the same rounds: a before/after
 *   BENCH_PROF=/tmp/prof …                      # each server child writes a --cpu-prof profile there
 */
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import http from 'node:http'
import os from 'node:os'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import * as jose from 'jose'
import pg from 'pg'
import { createServerDatabase } from '../test/support/databases.ts'
import { loadConfig } from '../src/config/config.ts'
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { sessionSettings } from '../src/db/session.ts'
import type { Database } from '../src/db/types.ts'
import { parseApiRequest } from '../src/rest/parse/api-request.ts'
import { targets } from '../src/rest/parse/types.ts'
import { planRead } from '../src/rest/plan/read-plan.ts'
import { readStatement } from '../src/rest/query/read-query.ts'
import { getSchemaCache } from '../src/rest/schema-cache/index.ts'
import { startServer } from '../src/runtime/node-server.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'
import { createServices } from '../src/services.ts'
import { processCpuMs } from './lib/auth-fixture.ts'
import { startLatencyProxy } from './lib/latency-proxy.ts'
import { load, type LoadResult } from './lib/load.ts'
import { roundOrder, serverKinds, startBenchServer, type PortChild, type ServerKind } from './lib/port-child.ts'

const SECRET = 'bench-secret-with-at-least-32-characters!!'
const OWNER = '5e0f8a52-0000-4000-8000-000000000001'
const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONCURRENCIES = (process.env.BENCH_CONCURRENCY ?? '1,16,32').split(',').map(Number)
const LATENCIES = (process.env.BENCH_LATENCY_MS ?? '0,0.5').split(',').map(Number)
const POOL = Number(process.env.BENCH_POOL ?? 10)
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const SELF = fileURLToPath(import.meta.url)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3)

/** Rounds → one figure: total requests over total time, the median round's p50/p99. */
function combine(rounds: LoadResult[]): LoadResult {
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  const requests = rounds.reduce((n, r) => n + r.requests, 0)
  const seconds = rounds.reduce((n, r) => n + r.seconds, 0)
  const statuses: Record<string, number> = {}
  for (const r of rounds) for (const [k, v] of Object.entries(r.statuses)) statuses[k] = (statuses[k] ?? 0) + v
  return { requests, seconds: Math.round(seconds * 100) / 100, rps: Math.round(requests / seconds), p50: median(rounds.map((r) => r.p50)), p99: median(rounds.map((r) => r.p99)), statuses, failures: rounds.reduce((n, r) => n + r.failures, 0) }
}

const SCHEMA_SQL = (items: number) => `
CREATE TABLE IF NOT EXISTS public.bench_items (id int PRIMARY KEY, owner uuid NOT NULL, title text NOT NULL, price numeric(10,2), created_at timestamptz DEFAULT now());
CREATE TABLE IF NOT EXISTS public.bench_children (id int PRIMARY KEY, item_id int NOT NULL REFERENCES public.bench_items(id), owner uuid NOT NULL, note text);
CREATE INDEX IF NOT EXISTS bench_children_item ON public.bench_children(item_id);
ALTER TABLE public.bench_items ENABLE ROW LEVEL SECURITY;
ALTER TABLE public.bench_children ENABLE ROW LEVEL SECURITY;
DROP POLICY IF EXISTS owner_reads ON public.bench_items;
DROP POLICY IF EXISTS owner_reads ON public.bench_children;
CREATE POLICY owner_reads ON public.bench_items FOR SELECT TO authenticated USING (owner = auth.uid());
CREATE POLICY owner_reads ON public.bench_children FOR SELECT TO authenticated USING (owner = auth.uid());
GRANT SELECT ON public.bench_items, public.bench_children TO authenticated;
INSERT INTO public.bench_items SELECT i, CASE WHEN i % 2 = 0 THEN '${OWNER}'::uuid ELSE gen_random_uuid() END, 'item ' || i, i * 1.5 FROM generate_series(1, ${items}) i ON CONFLICT DO NOTHING;
INSERT INTO public.bench_children SELECT i, (i - 1) / 10 + 1, CASE WHEN ((i - 1) / 10 + 1) % 2 = 0 THEN '${OWNER}'::uuid ELSE gen_random_uuid() END, 'note ' || i FROM generate_series(1, ${items} * 10) i ON CONFLICT DO NOTHING;
ANALYZE public.bench_items; ANALYZE public.bench_children;`

const SCENARIOS = {
  single: { path: '/bench_items', select: '*' },
  embed: { path: '/bench_items', select: '*,bench_children(*)' },
} as const
type Scenario = keyof typeof SCENARIOS

// ---------------------------------------------------------------- child: resolution server
async function serveResolution(databaseUrl: string | undefined, items: number): Promise<void> {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-bench-'))
  const config = loadConfig({ JWT_SECRET: SECRET, LOG_LEVEL: 'silent', DB_POOL_MAX: String(POOL), DB_POOL_CLIENT_SHARE: String(POOL), RESOLUTION_DATA_DIR: dataDir, ...(databaseUrl ? { DATABASE_URL: databaseUrl } : {}) })
  const services = await createServices(config)
  const server = await startServer(services, { port: 0, init: !databaseUrl, hostname: '127.0.0.1' })
  await server.ready
  if (!databaseUrl) await (await services.database()).exec(SCHEMA_SQL(items))
  process.stdout.write(`PORT ${server.port}\n`)
}

// ---------------------------------------------------------------- child: baseline server
/** The statement resolution generates for `?select=…&id=eq.<id>`, built once; only the id varies. */
function templateStatement(database: Database, select: string): Promise<{ sql: string; idIndex: number; params: unknown[] }> {
  return getSchemaCache(database, ['public']).then((cache) => {
    const request = parseApiRequest({ method: 'GET', path: '/bench_items', params: [['select', select], ['id', 'eq.__ID__']], headers: {}, schemas: ['public'] })
    if (!targets(request, 'relation')) throw new Error('bench_items is a table')
    const statement = readStatement(planRead(request, cache, { maxRows: 1000 }).read, { body: 'array' })
    return { sql: statement.sql, params: statement.params, idIndex: statement.params.indexOf('__ID__') }
  })
}

async function serveBaseline(databaseUrl: string | undefined, items: number): Promise<void> {
  let database: Database
  let runTx: (fn: (q: { query: (sql: string, params: unknown[]) => Promise<{ rows: Array<Record<string, unknown>> }> }) => Promise<string>) => Promise<string>
  if (databaseUrl) {
    const pool = new pg.Pool({ connectionString: databaseUrl, max: POOL })
    database = createPgDatabase({ url: databaseUrl, poolMax: 1 })
    runTx = async (fn) => {
      const client = await pool.connect()
      try {
        await client.query('BEGIN READ ONLY')
        const out = await fn(client)
        await client.query('COMMIT')
        return out
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        throw error
      } finally {
        client.release()
      }
    }
  } else {
    const { createPgliteDatabase } = await import('../src/db/pglite-driver.ts')
    const embedded = await createPgliteDatabase()
    database = embedded
    await bootstrap(database)
    await database.exec(SCHEMA_SQL(items))
    // The four calls a straightforward server makes, one after the other, serialised (PGlite has one session).
    runTx = (fn) =>
      embedded.withPglite(async (pglite) => {
        await pglite.query('BEGIN READ ONLY')
        try {
          const out = await fn({ query: (sql, params) => pglite.query<Record<string, unknown>>(sql, params) })
          await pglite.query('COMMIT')
          return out
        } catch (error) {
          await pglite.query('ROLLBACK').catch(() => {})
          throw error
        }
      })
  }
  const templates = { single: await templateStatement(database, SCENARIOS.single.select), embed: await templateStatement(database, SCENARIOS.embed.select) }
  const key = new TextEncoder().encode(SECRET)
  const server = http.createServer(async (req, res) => {
    try {
      const url = new URL(req.url ?? '/', 'http://x')
      const token = /^Bearer (.+)$/.exec(req.headers.authorization ?? '')?.[1]
      if (!token) throw Object.assign(new Error('no token'), { status: 401 })
      const { payload } = await jose.jwtVerify(token, key, { algorithms: ['HS256'] })
      const role = String(payload.role)
      const template = url.searchParams.get('select') === SCENARIOS.embed.select ? templates.embed : templates.single
      const params = [...template.params]
      params[template.idIndex] = (url.searchParams.get('id') ?? '').replace(/^eq\./, '')
      const headers: Record<string, string> = {}
      for (const [name, value] of Object.entries(req.headers)) if (typeof value === 'string') headers[name] = value
      // The same set_config calls as resolution's session (role, claims, timeout, request.*).
      const settings = sessionSettings({
        role,
        claims: { ...payload, role },
        statementTimeoutMs: 8000,
        settings: { search_path: '"public", "public", "extensions"', 'request.method': 'GET', 'request.path': url.pathname, 'request.headers': JSON.stringify(headers), 'request.cookies': '{}' },
      })
      const body = await runTx(async (q) => {
        await q.query(settings.sql, settings.params)
        const { rows } = await q.query(template.sql, params)
        return String(rows[0]!.body)
      })
      res.writeHead(200, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Range': '0-0/*' })
      res.end(body)
    } catch (error) {
      res.writeHead((error as { status?: number }).status ?? 500, { 'Content-Type': 'application/json' })
      res.end(JSON.stringify({ message: (error as Error).message }))
    }
  })
  server.keepAliveTimeout = 60_000
  server.listen(0, '127.0.0.1', () => process.stdout.write(`PORT ${(server.address() as { port: number }).port}\n`))
}

// ---------------------------------------------------------------- parent: orchestration
function startChild(kind: ServerKind, databaseUrl: string | undefined, items: number): Promise<PortChild> {
  return startBenchServer(kind, SELF, 'bench/rest-read.ts', [databaseUrl ?? 'pglite', String(items)])
}

/** One round against one server; also the server's CPU per request (ms, /proc: PGlite's included), robust to a busy machine where rates are not. */
async function measure(server: PortChild, scenario: Scenario, token: string, ids: number[], basePath: string, concurrency: number): Promise<LoadResult & { cpuMs: number }> {
  const port = server.port
  const agent = new http.Agent({ keepAlive: true, maxSockets: concurrency })
  const { select } = SCENARIOS[scenario]
  let n = 0
  const request = () =>
    new Promise<number>((resolve, reject) => {
      const id = ids[n++ % ids.length]!
      const req = http.request({ host: '127.0.0.1', port, agent, path: `${basePath}/bench_items?select=${encodeURIComponent(select)}&id=eq.${id}`, headers: { Authorization: `Bearer ${token}`, apikey: token } }, (res) => {
        res.resume()
        res.on('end', () => resolve(res.statusCode ?? 0))
      })
      req.on('error', reject)
      req.end()
    })
  // Sanity: one row with the right shape before measuring.
  const probe = await fetch(`http://127.0.0.1:${port}${basePath}/bench_items?select=${encodeURIComponent(select)}&id=eq.${ids[0]}`, { headers: { Authorization: `Bearer ${token}` } })
  const rows = (await probe.json()) as Array<Record<string, unknown>>
  if (probe.status !== 200 || rows.length !== 1 || (scenario === 'embed' && (rows[0]!.bench_children as unknown[]).length !== 10)) throw new Error(`bad probe on port ${port}: ${probe.status} ${JSON.stringify(rows).slice(0, 200)}`)
  await load(request, { concurrency, durationMs: 1000 }) // warm-up
  const cpuBefore = processCpuMs(server.pid)
  const result = await load(request, { concurrency, durationMs: SECONDS * 1000 })
  const cpuMs = Math.round(((processCpuMs(server.pid) - cpuBefore) / Math.max(1, result.requests)) * 1000) / 1000
  agent.destroy()
  return { ...result, cpuMs }
}

async function main(): Promise<void> {
  const benchDatabase = await createServerDatabase(ADMIN_URL, process.env.BENCH_DB_PREFIX ?? 'resolution_bench')
  const databaseUrl = benchDatabase.url
  const setup = createPgDatabase({ url: databaseUrl, poolMax: 1 })
  const results: Array<Record<string, unknown>> = []
  try {
    await bootstrap(setup)
    await setup.exec(SCHEMA_SQL(10_000))
    await setup.close()
    const now = Math.floor(Date.now() / 1000)
    const token = await new jose.SignJWT({ sub: OWNER, role: 'authenticated', aud: 'authenticated', iat: now, exp: now + 3600 }).setProtectedHeader({ alg: 'HS256', typ: 'JWT' }).sign(new TextEncoder().encode(SECRET))
    const targets = [[databaseUrl, 10_000], [undefined, 1_000]] as const
    for (const [db, items] of targets.filter(([d]) => !process.env.BENCH_ONLY || (process.env.BENCH_ONLY === 'postgresql') === Boolean(d))) {
      const ids = Array.from({ length: items / 2 }, (_, i) => (i + 1) * 2).sort(() => Math.random() - 0.5)
      for (const latencyMs of db ? LATENCIES : [0]) {
        // Both servers reach PostgreSQL through the same proxy.
        const proxy = latencyMs > 0 ? await startLatencyProxy(new URL(db!).hostname, Number(new URL(db!).port || 5432), latencyMs) : undefined
        let url = db
        if (proxy && db) {
          const proxied = new URL(db)
          proxied.hostname = '127.0.0.1'
          proxied.port = String(proxy.port)
          url = proxied.toString()
        }
        try {
          for (const scenario of (['single', 'embed'] as const).filter((s) => !process.env.BENCH_SCENARIO || process.env.BENCH_SCENARIO === s)) {
            const kinds = serverKinds()
            const servers = {} as Record<ServerKind, PortChild>
            try {
              for (const kind of kinds) servers[kind] = await startChild(kind, url, items)
              for (const concurrency of CONCURRENCIES) {
                const row: Record<string, unknown> = { database: db ? 'postgresql' : 'pglite', latencyMs, scenario, concurrency, loadAverage: os.loadavg()[0] }
                // The machine is shared: alternate short rounds so all servers see the same conditions.
                const rounds = Object.fromEntries(kinds.map((k) => [k, [] as Array<LoadResult & { cpuMs: number }>]))
                for (let round = 0; round < ROUNDS; round++) {
                  for (const kind of roundOrder(kinds, round)) rounds[kind]!.push(await measure(servers[kind], scenario, token, ids, '/rest/v1', concurrency))
                }
                const cpu = (kind: string) => [...rounds[kind]!.map((x) => x.cpuMs)].sort((x, y) => x - y)[Math.floor(ROUNDS / 2)]!
                for (const kind of kinds) row[kind] = { ...combine(rounds[kind]!), serverCpuMsPerRequest: cpu(kind) }
                const b = row.baseline as LoadResult
                const r = row.resolution as LoadResult
                row.ratio = Math.round((r.rps / b.rps) * 100) / 100
                const base = row.base as LoadResult | undefined
                if (base) row.ratioToBase = Math.round((r.rps / base.rps) * 100) / 100
                results.push(row)
                console.log(
                  `${String(row.database).padEnd(10)} +${latencyMs}ms ${scenario.padEnd(7)} c=${String(concurrency).padEnd(3)} baseline ${b.rps} req/s p99 ${b.p99} ms cpu ${cpu('baseline')} ms/req | resolution ${r.rps} req/s p99 ${r.p99} ms cpu ${cpu('resolution')} ms/req | ratio ${row.ratio}${base ? ` | base ${base.rps} req/s p99 ${base.p99} ms cpu ${cpu('base')} ms/req, ratio to base ${row.ratioToBase}` : ''} | load ${row.loadAverage}${b.failures + r.failures ? ` (failures ${b.failures}/${r.failures})` : ''}`,
                )
              }
            } finally {
              for (const kind of kinds) await servers[kind]?.stop()
            }
          }
        } finally {
          await proxy?.stop()
        }
      }
    }
  } finally {
    await benchDatabase.drop()
  }
  const out = { command: 'node --import tsx bench/rest-read.ts', secondsPerRound: SECONDS, rounds: ROUNDS, loadAverage: os.loadavg(), concurrencies: CONCURRENCIES, latenciesMs: LATENCIES, pool: POOL, cpus: os.cpus().length, node: process.version, at: new Date().toISOString(), results }
  mkdirSync(path.resolve('bench/results'), { recursive: true })
  writeFileSync(path.resolve('bench/results/rest-read.json'), JSON.stringify(out, null, 2) + '\n')
}

const [mode, db, items] = process.argv.slice(2)
if (mode?.startsWith('serve-')) process.on('SIGTERM', () => process.exit(0))
if (mode === 'serve-resolution') await serveResolution(db === 'pglite' ? undefined : db, Number(items))
else if (mode === 'serve-baseline') await serveBaseline(db === 'pglite' ? undefined : db, Number(items))
else await main()
