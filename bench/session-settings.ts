/**
 * Issue 16: what the session's settings cost. The request transaction as resolution runs it
 * (BEGIN READ ONLY, one `set_config` statement, a one-row read under RLS, COMMIT, pipelined) with
 * every setting resolution sends today, against the settings PostgREST 12 sends (search_path,
 * role, request.jwt.claims, request.method, request.path, request.headers, request.cookies):
 * without the legacy per-claim `request.jwt.claim.sub|role|email` and `statement_timeout`.
 * In-process, straight through the driver (no HTTP), alternating rounds.
 *
 *   BENCH_DB_PREFIX=… node --import tsx bench/session-settings.ts   # BENCH_SECONDS=3 BENCH_ROUNDS=4 BENCH_CONCURRENCY=16 BENCH_POOL=10
 */
import os from 'node:os'
import { createServerDatabase } from '../test/support/databases.ts'
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { withSession, type SessionOptions } from '../src/db/session.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'
import { load, type LoadResult } from './lib/load.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 3)
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 4)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 16)
const POOL = Number(process.env.BENCH_POOL ?? 10)
const ADMIN_URL = process.env.BENCH_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const OWNER = '5e0f8a52-0000-4000-8000-000000000001'

// What supabase-js sends, roughly: the headers JSON is the largest setting.
const HEADERS = {
  host: '127.0.0.1:5050',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
  accept: 'application/json',
  'accept-profile': 'public',
  apikey: 'eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJyb2xlIjoiYW5vbiIsImlzcyI6InN1cGFiYXNlIn0.c2lnbmF0dXJl',
  authorization: 'Bearer eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiI1ZTBmOGE1MiIsInJvbGUiOiJhdXRoZW50aWNhdGVkIn0.c2lnbmF0dXJl',
  'x-client-info': 'supabase-js-node/2.45.0',
}
const CLAIMS = { sub: OWNER, role: 'authenticated', aud: 'authenticated', email: 'bench@example.com', iat: 1, exp: 2 }

function options(full: boolean): SessionOptions {
  const settings = { search_path: '"public", "public", "extensions"', 'request.method': 'GET', 'request.path': '/bench_items', 'request.headers': JSON.stringify(HEADERS), 'request.cookies': '{}' }
  if (full) return { role: 'authenticated', claims: CLAIMS, readOnly: true, statementTimeoutMs: 8000, settings }
  // The claims JSON alone, as PostgREST sends it (no per-claim copies, no timeout).
  return { role: 'authenticated', readOnly: true, settings: { 'request.jwt.claims': JSON.stringify(CLAIMS), ...settings } }
}

async function main(): Promise<void> {
  const scratch = await createServerDatabase(ADMIN_URL, `${process.env.BENCH_DB_PREFIX ?? 'resolution_bench'}_settings`)
  const database = createPgDatabase({ url: scratch.url, poolMax: POOL })
  try {
    await bootstrap(database)
    await database.exec(`CREATE TABLE public.items (id int PRIMARY KEY, owner uuid NOT NULL, title text);
      ALTER TABLE public.items ENABLE ROW LEVEL SECURITY;
      CREATE POLICY owner_reads ON public.items FOR SELECT TO authenticated USING (owner = auth.uid());
      GRANT SELECT ON public.items TO authenticated;
      INSERT INTO public.items SELECT i, '${OWNER}', 'item ' || i FROM generate_series(1, 1000) i; ANALYZE public.items;`)
    let n = 0
    const run = (full: boolean) => async () => {
      const id = (n++ % 1000) + 1
      const rows = await withSession(database, options(full), async (tx) => (await tx.query('SELECT coalesce(json_agg(t), \'[]\')::text AS body FROM public.items t WHERE id = $1', [id], { commit: true })).rows)
      return rows.length === 1 ? 200 : 500
    }
    const rounds: Record<'all' | 'trimmed', LoadResult[]> = { all: [], trimmed: [] }
    for (let round = 0; round < ROUNDS; round++) {
      for (const kind of round % 2 === 0 ? (['all', 'trimmed'] as const) : (['trimmed', 'all'] as const)) {
        rounds[kind].push(await load(run(kind === 'all'), { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, warmupMs: 300 }))
      }
    }
    const rps = (rs: LoadResult[]) => Math.round(rs.reduce((a, r) => a + r.requests, 0) / rs.reduce((a, r) => a + r.seconds, 0))
    const all = rps(rounds.all)
    const trimmed = rps(rounds.trimmed)
    console.log(`all 11 settings ${all} tx/s | PostgREST's 7 ${trimmed} tx/s | ratio ${Math.round((trimmed / all) * 100) / 100} | c=${CONCURRENCY} pool ${POOL} | load ${os.loadavg()[0]!.toFixed(1)}`)
  } finally {
    await database.close()
    await scratch.drop()
  }
}

await main()
