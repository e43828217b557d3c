/**
 * How a request's transaction ends: `DB_TX_END` (commit, rollback, or either with a client
 * override) and `Prefer: tx=commit|rollback`.
 * @module
 */

export interface TxPolicy {
  txEnd: 'commit' | 'commit-allow-override' | 'rollback' | 'rollback-allow-override'
}

/** Whether this request ends in ROLLBACK (`db-tx-end` and `Prefer: tx=`). */
export function wantsRollback(prefs: { tx?: 'commit' | 'rollback' }, policy: TxPolicy): { rollback: boolean; applied: boolean } {
  const overridable = policy.txEnd.endsWith('allow-override')
  const base = policy.txEnd.startsWith('rollback')
  if (overridable && prefs.tx) return { rollback: prefs.tx === 'rollback', applied: true }
  return { rollback: base, applied: false }
}
