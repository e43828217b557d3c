/**
 * One measured `db restore` in its own process (so its peak RSS is its own): bootstraps the
 * target first (outside the timing), restores the file, prints one JSON line.
 *
 *   node --import tsx bench/restore-run.ts <database-url> <file>
 */
import { createPgDatabase } from '../src/db/pg-driver.ts'
import { restore } from '../src/dbtools/restore/restore.ts'
import { bootstrap } from '../src/schema/bootstrap.ts'

const [url, file] = process.argv.slice(2)
if (!url || !file) {
  process.stderr.write('usage: restore-run.ts <database-url> <file>\n')
  process.exit(2)
}
const database = createPgDatabase({ url, poolMax: 2 })
try {
  await bootstrap(database)
  const started = performance.now()
  const cpu = process.cpuUsage()
  const summary = await restore(database, [file], { bootstrap: false })
  const seconds = (performance.now() - started) / 1000
  const used = process.cpuUsage(cpu)
  const rows = [...summary.rows.values()].reduce((a, b) => a + b, 0)
  process.stdout.write(`${JSON.stringify({ rows, seconds, cpuSeconds: (used.user + used.system) / 1e6, maxRssMiB: process.resourceUsage().maxRSS / 1024 })}\n`)
} finally {
  await database.close()
}
