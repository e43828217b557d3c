/**
 * Rewrites by token: libpg_query's scanner gives each token's byte range, so a rewrite replaces
 * exact tokens (a grantee list, a privilege, `CREATE` → `CREATE OR REPLACE`) and leaves the rest
 * of the statement byte for byte as the dump wrote it.
 * @module
 */
import { scanSync } from 'libpg-query'
import { ident } from '../../db/sql.ts'
import type { Node } from './parse.ts'

export interface Token {
  text: string
  upper: string
  /** Byte offsets in the statement's UTF-8. */
  start: number
  end: number
  /** Parenthesis depth the token stands at. */
  depth: number
}

export interface Edit {
  start: number
  end: number
  text: string
}

export function tokenize(sql: string): Token[] {
  const tokens: Token[] = []
  let depth = 0
  for (const t of scanSync(sql).tokens) {
    if (t.tokenName === 'SQL_COMMENT' || t.tokenName === 'C_COMMENT') continue
    if (t.text === ')') depth -= 1
    tokens.push({ text: t.text, upper: t.text.toUpperCase(), start: t.start, end: t.end, depth })
    if (t.text === '(') depth += 1
  }
  return tokens
}

export function applyEdits(sql: string, edits: Edit[]): string {
  const bytes = Buffer.from(sql, 'utf8')
  const parts: Buffer[] = []
  let at = 0
  for (const edit of [...edits].sort((a, b) => a.start - b.start)) {
    parts.push(bytes.subarray(at, edit.start), Buffer.from(edit.text, 'utf8'))
    at = edit.end
  }
  parts.push(bytes.subarray(at))
  return Buffer.concat(parts).toString('utf8')
}

/** Inserts `text` after the first top-level token equal to `word` (upper case). */
export function insertAfter(sql: string, word: string, text: string): string | undefined {
  const token = tokenize(sql).find((t) => t.depth === 0 && t.upper === word)
  return token ? applyEdits(sql, [{ start: token.end, end: token.end, text }]) : undefined
}

/** `RoleSpec` → SQL. */
export function roleSql(spec: Node): string {
  switch (spec.roletype) {
    case 'ROLESPEC_PUBLIC':
      return 'PUBLIC'
    case 'ROLESPEC_CURRENT_USER':
      return 'CURRENT_USER'
    case 'ROLESPEC_SESSION_USER':
      return 'SESSION_USER'
    case 'ROLESPEC_CURRENT_ROLE':
      return 'CURRENT_ROLE'
    default:
      return ident(spec.rolename)
  }
}

/**
 * Replaces the grantee list of a GRANT/REVOKE (the tokens after the last top-level TO/FROM, up
 * to WITH/GRANTED/CASCADE/RESTRICT) and drops `GRANTED BY` when asked.
 */
export function rewriteGrantees(sql: string, grantees: Node[], options: { dropGrantedBy?: boolean } = {}): string {
  const tokens = tokenize(sql).filter((t) => t.depth === 0)
  let listStart = -1
  for (let i = tokens.length - 1; i >= 0; i--) {
    if (tokens[i]!.upper === 'TO' || tokens[i]!.upper === 'FROM') {
      listStart = i + 1
      break
    }
  }
  if (listStart < 0) throw new Error('no grantee list')
  let listEnd = listStart
  while (listEnd < tokens.length && !['WITH', 'GRANTED', 'CASCADE', 'RESTRICT', ';'].includes(tokens[listEnd]!.upper)) listEnd++
  const edits: Edit[] = [{ start: tokens[listStart]!.start, end: tokens[listEnd - 1]!.end, text: grantees.map(roleSql).join(', ') }]
  if (options.dropGrantedBy) {
    const granted = tokens.findIndex((t, i) => t.upper === 'GRANTED' && tokens[i + 1]?.upper === 'BY')
    if (granted >= 0) edits.push({ start: tokens[granted - 1]!.end, end: tokens[granted + 2]!.end, text: '' })
  }
  return applyEdits(sql, edits)
}

/** Replaces the privilege list between GRANT/REVOKE [GRANT OPTION FOR] and the top-level ON. */
export function rewritePrivileges(sql: string, privileges: string[]): string {
  const tokens = tokenize(sql)
  const on = tokens.findIndex((t) => t.depth === 0 && t.upper === 'ON')
  let first = tokens.findIndex((t) => t.upper === 'GRANT' || t.upper === 'REVOKE') + 1
  if (tokens[first]?.upper === 'GRANT' && tokens[first + 1]?.upper === 'OPTION') first += 3
  if (on <= first) throw new Error('no privilege list')
  return applyEdits(sql, [{ start: tokens[first]!.start, end: tokens[on - 1]!.end, text: privileges.join(', ') }])
}

/** Replaces the relation name of `INSERT INTO rel …` / `COPY rel …` with `replacement`. */
export function replaceRelation(sql: string, replacement: string): string {
  // The relation is among the first tokens: scan a head, not a 10 MB INSERT (whole text if the cut fails).
  let tokens: Token[]
  try {
    tokens = tokenize(sql.length > 4096 ? sql.slice(0, 4096) : sql)
  } catch {
    tokens = tokenize(sql)
  }
  let at = tokens[0]?.upper === 'INSERT' ? 2 : 1
  const start = tokens[at]!.start
  let end = tokens[at]!.end
  while (tokens[at + 1]?.text === '.' && tokens[at + 2]) {
    end = tokens[at + 2]!.end
    at += 2
  }
  return applyEdits(sql, [{ start, end, text: replacement }])
}
