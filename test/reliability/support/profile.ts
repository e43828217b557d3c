/**
 * Short form (CI, `npm run test:reliability`) or long form (`RELIABILITY_LONG=1`): the same
 * scenarios and assertions, longer runs and more requests. Figures go to stdout and, when
 * `RELIABILITY_REPORT` names a file, one JSON line per scenario is appended there.
 * @module
 */
import { appendFileSync } from 'node:fs'

export const LONG = process.env.RELIABILITY_LONG === '1'

/** `short` in the CI form, `long` with RELIABILITY_LONG=1. */
export function scale<T>(short: T, long: T): T {
  return LONG ? long : short
}

export function report(scenario: string, figures: Record<string, unknown>): void {
  const line = { scenario, form: LONG ? 'long' : 'short', ...figures }
  console.log(`[reliability] ${JSON.stringify(line)}`)
  if (process.env.RELIABILITY_REPORT) appendFileSync(process.env.RELIABILITY_REPORT, JSON.stringify(line) + '\n')
}
