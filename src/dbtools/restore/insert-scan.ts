/**
 * The fast path for huge multi-row INSERTs (`supabase db dump --data-only` writes up to 100,000
 * rows per statement). Parsing such a statement whole costs seconds and hundreds of MB of syntax
 * tree; the sanitizer only needs its head. This scanner finds where the first VALUES row ends and
 * counts the rows, quote-aware, in one pass over the text.
 * @module
 */

export interface InsertShape {
  /** String index just after the first VALUES row: `text.slice(0, headEnd)` is a complete INSERT. */
  headEnd: number
  /** Number of VALUES rows. */
  rows: number
  /** Something follows the VALUES list (ON CONFLICT, RETURNING): take the slow path. */
  tail: boolean
}

const isIdent = (code: number) => (code >= 48 && code <= 57) || (code >= 65 && code <= 90) || (code >= 97 && code <= 122) || code === 95 || code > 127
const DOLLAR_TAG = /^\$(?:[A-Za-z_\u0080-\uffff][A-Za-z0-9_\u0080-\uffff]*)?\$/

export function scanInsertValues(sql: string): InsertShape | undefined {
  const n = sql.length
  let i = 0
  let depth = 0
  let afterValues = false
  let headEnd = -1
  let rows = 0
  let tail = false
  while (i < n) {
    const c = sql.charCodeAt(i)
    if (c === 39) {
      // '…' with '' escapes; E'…' also with backslash escapes
      const escaped = i > 0 && (sql[i - 1] === 'E' || sql[i - 1] === 'e') && !(i > 1 && isIdent(sql.charCodeAt(i - 2)))
      i += 1
      while (i < n) {
        const d = sql.charCodeAt(i)
        if (escaped && d === 92) i += 2
        else if (d === 39 && sql.charCodeAt(i + 1) === 39) i += 2
        else if (d === 39) break
        else i += 1
      }
      i += 1
      continue
    }
    if (c === 34) {
      i += 1
      while (i < n && !(sql.charCodeAt(i) === 34 && sql.charCodeAt(i + 1) !== 34)) i += sql.charCodeAt(i) === 34 ? 2 : 1
      i += 1
      continue
    }
    if (c === 36 && !(i > 0 && isIdent(sql.charCodeAt(i - 1)))) {
      const tag = DOLLAR_TAG.exec(sql.slice(i, i + 64))
      if (tag) {
        const close = sql.indexOf(tag[0], i + tag[0].length)
        if (close === -1) return undefined
        i = close + tag[0].length
        continue
      }
    }
    if (c === 45 && sql.charCodeAt(i + 1) === 45) {
      const newline = sql.indexOf('\n', i)
      i = newline === -1 ? n : newline + 1
      continue
    }
    if (c === 47 && sql.charCodeAt(i + 1) === 42) {
      let nest = 1
      i += 2
      while (i < n && nest > 0) {
        if (sql.charCodeAt(i) === 47 && sql.charCodeAt(i + 1) === 42) {
          nest += 1
          i += 2
        } else if (sql.charCodeAt(i) === 42 && sql.charCodeAt(i + 1) === 47) {
          nest -= 1
          i += 2
        } else i += 1
      }
      continue
    }
    if (c === 40) {
      if (depth === 0 && afterValues) rows += 1
      depth += 1
    } else if (c === 41) {
      depth -= 1
      if (depth === 0 && afterValues && headEnd === -1) headEnd = i + 1
    } else if (depth === 0 && isIdent(c)) {
      let j = i + 1
      while (j < n && isIdent(sql.charCodeAt(j))) j += 1
      const word = sql.slice(i, j).toUpperCase()
      if (!afterValues && word === 'VALUES') afterValues = true
      else if (afterValues) tail = true
      i = j
      continue
    }
    i += 1
  }
  if (!afterValues || headEnd === -1 || depth !== 0) return undefined
  return { headEnd, rows, tail }
}
