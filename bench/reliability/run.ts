/**
 * The reliability scenarios in their long form (RELIABILITY_LONG=1), with the figures gathered
 * into one table: requests, 5xx, p50/p99 per scenario, recovery time after a database restart,
 * the RSS curve. `--short` runs the CI form instead; further arguments filter test files.
 *
 *   node --import tsx bench/reliability/run.ts            # long form (≈ 10 minutes)
 *   node --import tsx bench/reliability/run.ts --short    # CI form
 *   node --import tsx bench/reliability/run.ts restart    # one scenario
 *
 * Each scenario starts its own throwaway PostgreSQL 15 (never the shared server), so it needs
 * /usr/lib/postgresql/15/bin (or PG_BIN_DIR) and, as root, a `postgres` OS user.
 */
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, existsSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'

const args = process.argv.slice(2)
const short = args.includes('--short')
const filters = args.filter((a) => a !== '--short')
const reportFile = path.join(mkdtempSync(path.join(os.tmpdir(), 'resolution-reliability-')), 'figures.jsonl')

const result = spawnSync(process.execPath, ['node_modules/vitest/vitest.mjs', 'run', '--config', 'test/reliability/vitest.config.ts', ...filters], {
  stdio: 'inherit',
  env: { ...process.env, RELIABILITY_REPORT: reportFile, ...(short ? {} : { RELIABILITY_LONG: '1' }) },
})

type Figures = Record<string, unknown> & { scenario: string; form: string }
const lines: Figures[] = existsSync(reportFile)
  ? readFileSync(reportFile, 'utf8')
      .trim()
      .split('\n')
      .filter(Boolean)
      .map((l) => JSON.parse(l) as Figures)
  : []

const rows: Array<Record<string, unknown>> = []
for (const f of lines) {
  const row: Record<string, unknown> = { scenario: f.scenario, form: f.form, requests: '', '5xx': '', p50: '', p99: '', note: '' }
  const s = f as Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  switch (f.scenario) {
    case 'sustained mixed load':
      Object.assign(row, { requests: s.requests, '5xx': s.count5xx, p50: s.p50, p99: s.p99, note: `${s.rps} req/s, ${s.concurrency} clients, writes acked ${s.writes.acked}, lost ${s.writes.lost}, phantom ${s.writes.phantom}` })
      break
    case 'database restart under load':
      Object.assign(row, {
        requests: s.requests,
        '5xx': s.count5xx,
        p50: s.p50,
        p99: s.p99,
        note: s.cycles.map((c: any) => `${c.mode} stop: ${c.outageRequests} req in outage, all 503 p99 ${c.outageP99} ms; recovery ${c.recoveryMs} ms`).join(' | ') + `; writes lost ${s.writes.lost}`, // eslint-disable-line @typescript-eslint/no-explicit-any
      })
      break
    case 'pool exhaustion and slow queries':
      Object.assign(row, { requests: s.slow.requests + s.fast.requests, '5xx': `${s.slow.requests} × 504 (slow)`, p50: `slow ${s.slow.p50} / fast ${s.fast.p50}`, p99: `slow ${s.slow.p99} / fast ${s.fast.p99}`, note: `pool ${s.poolMax}, timeout ${s.statementTimeoutMs} ms, peak ${s.peakConnections} conns, after: ${s.afterConnections.join(',')}` })
      break
    case 'SIGTERM under load':
      Object.assign(row, {
        requests: s.rounds.reduce((n: number, r: any) => n + r.requests, 0), // eslint-disable-line @typescript-eslint/no-explicit-any
        '5xx': 0,
        note: s.rounds.map((r: any) => `exit ${r.exitCode} in ${r.exitMs} ms, ${r.inFlightAtSignal} in flight → ${JSON.stringify(r.inFlightStatuses)}`).join(' | '), // eslint-disable-line @typescript-eslint/no-explicit-any
      })
      break
    case 'memory':
      Object.assign(row, { requests: s.requests, '5xx': s.count5xx, p50: s.p50, p99: s.p99, note: `RSS ${s.rssBaselineMiB} → ${s.rssFinalMiB} MiB (${s.growthPercent}%); curve ${s.curve.map((p: any) => `${p.requests}:${p.rssMiB}`).join(' ')}` }) // eslint-disable-line @typescript-eslint/no-explicit-any
      break
    default:
      row.note = JSON.stringify(Object.fromEntries(Object.entries(f).filter(([k]) => k !== 'scenario' && k !== 'form')))
  }
  rows.push(row)
}
// Plain lines rather than console.table: the notes are long.
for (const row of rows) {
  console.log(`\n${row.scenario} (${row.form})`)
  for (const key of ['requests', '5xx', 'p50', 'p99', 'note']) if (row[key] !== '') console.log(`  ${key.padEnd(8)} ${String(row[key])}`)
}
console.log(`figures: ${reportFile}`)
process.exit(result.status ?? 1)
