/**
 * What a restore did (or, with --dry-run, would do): statements run, rows per table, and every
 * skip and rewrite with its reason — grouped, so 92 identical default-privilege lines read as one.
 * @module
 */
import path from 'node:path'
import type { Note } from './sanitize-context.ts'
import { formatFinding, type UnsafeFinding } from './safety.ts'

export interface Decision extends Note {
  file: string
  line: number
  action: 'skip' | 'rewrite'
  /** First line of the statement, shortened. */
  excerpt: string
}

export interface RestoreSummary {
  files: string[]
  dryRun: boolean
  transaction: boolean
  statementsRun: number
  /** `schema.table` → rows loaded (COPY and INSERT). */
  rows: Map<string, number>
  decisions: Decision[]
  /** Statements the safety check refused (or, with --allow-unsafe, ran anyway). */
  unsafe: UnsafeFinding[]
  durationMs: number
  warnings: string[]
}

export function newSummary(files: string[], dryRun: boolean, transaction: boolean): RestoreSummary {
  return { files, dryRun, transaction, statementsRun: 0, rows: new Map(), decisions: [], unsafe: [], durationMs: 0, warnings: [] }
}

export function addRows(summary: RestoreSummary, table: string, rows: number): void {
  summary.rows.set(table, (summary.rows.get(table) ?? 0) + rows)
}

/** Rules whose rewrites are routine (SET → SET LOCAL): counted, not listed. */
const QUIET_RULES = new Set(['session-setting'])

export function formatSummary(summary: RestoreSummary, options: { verbose?: boolean } = {}): string {
  const lines: string[] = []
  const totalRows = [...summary.rows.values()].reduce((a, b) => a + b, 0)
  const verb = summary.dryRun ? 'would run' : 'ran'
  lines.push(
    `${summary.dryRun ? 'Dry run of' : 'Restored'} ${summary.files.join(', ')}: ${verb} ${summary.statementsRun} statements, ${totalRows} rows` +
      (summary.dryRun ? '' : ` in ${(summary.durationMs / 1000).toFixed(1)} s`) +
      (summary.transaction ? ' (one transaction)' : ' (statement by statement)'),
  )
  const tables = [...summary.rows].filter(([, n]) => n > 0).sort(([a], [b]) => a.localeCompare(b))
  if (tables.length) {
    lines.push(`Rows per table${summary.dryRun ? ' (data lines in the file)' : ''}:`)
    for (const [table, n] of tables) lines.push(`  ${table}: ${n}`)
  }
  for (const action of ['skip', 'rewrite'] as const) {
    const decisions = summary.decisions.filter((d) => d.action === action && (options.verbose || !QUIET_RULES.has(d.rule)))
    const quiet = summary.decisions.filter((d) => d.action === action && !options.verbose && QUIET_RULES.has(d.rule)).length
    if (decisions.length === 0 && quiet === 0) continue
    lines.push(`${action === 'skip' ? 'Skipped' : 'Rewrote'} ${decisions.length + quiet} statements:`)
    const byRule = new Map<string, Decision[]>()
    for (const d of decisions) byRule.set(d.rule, [...(byRule.get(d.rule) ?? []), d])
    for (const [ruleName, items] of byRule) {
      lines.push(`  ${ruleName} (${items.length}):`)
      const reasons = new Map<string, Decision[]>()
      for (const d of items) reasons.set(d.reason, [...(reasons.get(d.reason) ?? []), d])
      const shown = options.verbose ? [...reasons] : [...reasons].slice(0, 4)
      for (const [reason, same] of shown) {
        const where = same.slice(0, 3).map((d) => `${path.basename(d.file)}:${d.line}`).join(', ') + (same.length > 3 ? ` +${same.length - 3}` : '')
        lines.push(`    - ${reason}${same.length > 1 ? ` (${same.length}×)` : ''} [${where}]`)
      }
      if (shown.length < reasons.size) lines.push(`    … ${reasons.size - shown.length} more reasons (--verbose lists them all)`)
    }
    if (quiet) lines.push(`  [${quiet}] session settings made SET LOCAL (scoped to the restore transaction)`)
  }
  const refused = summary.unsafe.filter((f) => !f.allowed)
  const allowed = summary.unsafe.filter((f) => f.allowed)
  if (refused.length) {
    lines.push(`Unsafe: ${refused.length} statement${refused.length === 1 ? '' : 's'} a restore refuses (it would change nothing; --allow-unsafe runs them):`)
    for (const f of refused) lines.push(`  ${formatFinding(f)}`)
  }
  if (allowed.length) {
    lines.push(`Unsafe, ${summary.dryRun ? 'would run' : 'ran'} because of --allow-unsafe: ${allowed.length} statement${allowed.length === 1 ? '' : 's'}:`)
    for (const f of allowed) lines.push(`  ${formatFinding(f)}`)
  }
  for (const warning of summary.warnings) lines.push(`Warning: ${warning}`)
  return lines.join('\n')
}

/** The summary as plain JSON (for --json and tests). */
export function summaryJson(summary: RestoreSummary): Record<string, unknown> {
  return { ...summary, rows: Object.fromEntries(summary.rows) }
}
