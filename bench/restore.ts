/**
 * `db restore` against `psql -f` on the same generated COPY data dump, into fresh databases on the
 * same server, side by side: rows/s for both, and the restore's peak RSS at each size (it must
 * stay flat as the file grows). Both targets are bootstrapped and checkpointed first; the restore
 * runs in its own process (a cold start, as from the CLI) so its peak RSS is its own.
 *
 *   node --import tsx bench/restore.ts [rows…]          (default: 1000000 4000000)
 *   BENCH_DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres (default), BENCH_RUNS=3
 */
import { execFileSync, spawnSync } from 'node:child_process'
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'

const adminUrl = process.env.BENCH_DATABASE_URL ?? process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/postgres'
const sizes = process.argv.slice(2).map(Number).filter((n) => n > 0)
if (sizes.length === 0) sizes.push(1_000_000, 4_000_000)

/** A pg_dump-shaped data dump: preamble, the table, one COPY block of `rows` rows. */
function generate(rows: number): string {
  const file = path.join(os.tmpdir(), `resolution-bench-restore-${rows}.sql`)
  if (fs.existsSync(file)) return file
  const fd = fs.openSync(file, 'w')
  fs.writeSync(fd, `SET statement_timeout = 0;
SET client_encoding = 'UTF8';
SET standard_conforming_strings = on;
SELECT pg_catalog.set_config('search_path', '', false);
SET session_replication_role = replica;

CREATE TABLE public.bench_events (
    id bigint NOT NULL,
    user_id uuid NOT NULL,
    kind text NOT NULL,
    amount numeric(12,2),
    note text,
    created_at timestamp with time zone NOT NULL
);

COPY public.bench_events (id, user_id, kind, amount, note, created_at) FROM stdin;
`)
  const kinds = ['signup', 'login', 'purchase', 'refund', 'logout']
  let buffer = ''
  for (let i = 1; i <= rows; i++) {
    const uuid = `${(i * 2654435761 >>> 0).toString(16).padStart(8, '0')}-0000-4000-8000-${i.toString(16).padStart(12, '0')}`
    const note = i % 7 === 0 ? '\\N' : `note ${i} with\\ttab and \\\\ backslash`
    buffer += `${i}\t${uuid}\t${kinds[i % 5]}\t${(i % 100000) / 100}\t${note}\t2024-01-${String((i % 28) + 1).padStart(2, '0')} 12:${String(i % 60).padStart(2, '0')}:00+00\n`
    if (buffer.length > 1 << 20) {
      fs.writeSync(fd, buffer)
      buffer = ''
    }
  }
  fs.writeSync(fd, `${buffer}\\.\n\nRESET ALL;\n`)
  fs.closeSync(fd)
  return file
}

async function admin<T>(fn: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: adminUrl })
  await client.connect()
  try {
    return await fn(client)
  } finally {
    await client.end()
  }
}

/** A new database, bootstrapped (roles, auth, vault) and checkpointed, so both loaders start from the same state. */
async function freshDatabase(name: string): Promise<string> {
  await admin(async (c) => {
    await c.query(`DROP DATABASE IF EXISTS "${name}" WITH (FORCE)`)
    await c.query(`CREATE DATABASE "${name}"`)
  })
  const url = new URL(adminUrl)
  url.pathname = `/${name}`
  const database = createPgDatabase({ url: url.toString(), poolMax: 1 })
  try {
    await bootstrap(database)
  } finally {
    await database.close()
  }
  await admin((c) => c.query('CHECKPOINT'))
  return url.toString()
}

async function countRows(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url })
  await client.connect()
  try {
    return Number((await client.query('SELECT count(*) AS n FROM public.bench_events')).rows[0].n)
  } finally {
    await client.end()
  }
}

function runPsql(url: string, file: string): number {
  const started = performance.now()
  execFileSync('psql', ['-X', '-q', '-v', 'ON_ERROR_STOP=1', '-f', file, url], { stdio: ['ignore', 'ignore', 'inherit'] })
  return (performance.now() - started) / 1000
}

function runRestore(url: string, file: string): { rows: number; seconds: number; maxRssMiB: number } {
  const child = spawnSync(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'restore-run.ts'), url, file], { encoding: 'utf8', maxBuffer: 1 << 24 })
  if (child.status !== 0) throw new Error(`restore failed: ${child.stderr}`)
  return JSON.parse(child.stdout.trim().split('\n').at(-1)!)
}

const runs = Number(process.env.BENCH_RUNS ?? 3)
const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!

for (const rows of sizes) {
  const file = generate(rows)
  const mb = fs.statSync(file).size / 1048576
  const psqlTimes: number[] = []
  const ourTimes: number[] = []
  const rss: number[] = []
  // Alternating runs, each into a fresh database, so load on the machine hits both alike.
  for (let run = 0; run < runs; run++) {
    const psqlUrl = await freshDatabase('resolution_bench_psql')
    psqlTimes.push(runPsql(psqlUrl, file))
    if ((await countRows(psqlUrl)) !== rows) throw new Error('psql loaded a different row count')
    const ourUrl = await freshDatabase('resolution_bench_restore')
    const ours = runRestore(ourUrl, file)
    if ((await countRows(ourUrl)) !== rows || ours.rows !== rows) throw new Error('db restore loaded a different row count')
    ourTimes.push(ours.seconds)
    rss.push(ours.maxRssMiB)
    await admin(async (c) => {
      await c.query('DROP DATABASE IF EXISTS "resolution_bench_psql" WITH (FORCE)')
      await c.query('DROP DATABASE IF EXISTS "resolution_bench_restore" WITH (FORCE)')
    })
  }
  const p = median(psqlTimes)
  const o = median(ourTimes)
  process.stdout.write(
    `${rows.toLocaleString('en')} rows (${mb.toFixed(0)} MiB), median of ${runs}: ` +
      `psql -f ${(rows / p).toFixed(0)} rows/s (${p.toFixed(2)} s) | ` +
      `db restore ${(rows / o).toFixed(0)} rows/s (${o.toFixed(2)} s), peak RSS ${Math.max(...rss).toFixed(0)} MiB | ` +
      `${(p / o).toFixed(2)}× psql   [psql ${psqlTimes.map((t) => t.toFixed(2)).join(' ')}; restore ${ourTimes.map((t) => t.toFixed(2)).join(' ')}]\n`,
  )
}
process.stdout.write(`\nload average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.cpus().length} cores\n`)
