/**
 * Issue 13 §2 figures: REST throughput of `serve` on the embedded database alone, and while a
 * pg client works on its wire port (queries and short transactions back to back, as a busy psql
 * or GUI session would). The engine is one session, so the two share it: the figure says how much
 * API throughput a concurrent socket client costs. The server is a child process (`serve`, what
 * `npm start` runs); the load generator and the pg client are this process.
 *
 *   node --import tsx bench/embedded-wire.ts   # BENCH_SECONDS=5 BENCH_CONCURRENCY=8
 */
import fs from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { spawnServe } from '../test/reliability/support/serve-process.ts'
import { hit, load } from './lib/load.ts'
import { freePort } from '../test/support/ports.ts'

const SECONDS = Number(process.env.BENCH_SECONDS ?? 5)
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 8)


const wirePort = await freePort()
const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolution-bench-wire-'))
const server = await spawnServe({ RESOLUTION_DATA_DIR: dataDir, EMBEDDED_DB_PORT: String(wirePort) }, { readyTimeoutMs: 600_000 })
const url = `postgres://postgres@127.0.0.1:${wirePort}/postgres`
try {
  const setup = new pg.Client({ connectionString: url })
  await setup.connect()
  await setup.query('CREATE TABLE public.bench_items (id int PRIMARY KEY, body text)')
  await setup.query("INSERT INTO public.bench_items SELECT g, 'item ' || g FROM generate_series(1, 100) g")
  await setup.query('CREATE TABLE public.bench_wire (id serial PRIMARY KEY, n int)')
  await setup.end()

  const headers = { apikey: server.serviceRoleKey, authorization: `Bearer ${server.serviceRoleKey}` }
  let i = 0
  const request = () => hit(`${server.url}/rest/v1/bench_items?id=eq.${(i++ % 100) + 1}&select=id,body`, { headers })
  const options = { concurrency: CONCURRENCY, durationMs: SECONDS * 1000, warmupMs: 1000 }

  const alone = await load(request, options)

  const client = new pg.Client({ connectionString: url })
  await client.connect()
  let stop = false
  let socketQueries = 0
  let socketTransactions = 0
  const socket = (async () => {
    while (!stop) {
      await client.query('BEGIN')
      await client.query('INSERT INTO public.bench_wire (n) VALUES ($1)', [socketTransactions])
      await client.query('SELECT count(*) FROM public.bench_wire')
      await client.query('COMMIT')
      await client.query('SELECT id, body FROM public.bench_items WHERE id = $1', [(socketQueries % 100) + 1])
      socketQueries += 5
      socketTransactions++
    }
  })()
  const started = performance.now()
  const shared = await load(request, options)
  stop = true
  await socket
  const socketSeconds = (performance.now() - started) / 1000
  await client.end()

  console.log(JSON.stringify({
    concurrency: CONCURRENCY,
    seconds: SECONDS,
    restAlone: alone,
    restWithSocketClient: shared,
    socketClient: { statementsPerSecond: Math.round(socketQueries / socketSeconds), transactionsPerSecond: Math.round(socketTransactions / socketSeconds) },
  }, null, 2))
} finally {
  await server.kill()
}
