/**
 * Request bodies: JSON (the client's default), CSV with a header row, and form-urlencoded, all
 * turned into JSON values. Bad bodies are 400 `PGRST102`.
 * @module
 */
import { invalidBody } from './errors.ts'

/** RFC 4180 CSV → rows of strings; an unquoted empty cell is NULL, as PostgREST reads it. */
export function parseCsv(text: string): Array<Record<string, string | null>> {
  const records: Array<Array<string | null>> = []
  let row: Array<string | null> = []
  let cell = ''
  let quoted = false
  let wasQuoted = false
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        cell += '"'
        i++
      } else if (ch === '"') quoted = false
      else cell += ch
      continue
    }
    if (ch === '"' && cell === '') {
      quoted = true
      wasQuoted = true
    } else if (ch === ',') {
      row.push(cell === '' && !wasQuoted ? null : cell)
      cell = ''
      wasQuoted = false
    } else if (ch === '\n' || ch === '\r') {
      if (ch === '\r' && text[i + 1] === '\n') i++
      row.push(cell === '' && !wasQuoted ? null : cell)
      records.push(row)
      row = []
      cell = ''
      wasQuoted = false
    } else cell += ch
  }
  if (quoted) throw invalidBody('Unterminated quoted field in CSV body')
  if (cell !== '' || wasQuoted || row.length) {
    row.push(cell === '' && !wasQuoted ? null : cell)
    records.push(row)
  }
  const [header, ...rest] = records
  if (!header) return []
  const names = header.map((h) => h ?? '')
  return rest.map((r) => {
    if (r.length !== names.length) throw invalidBody('All lines of the CSV body must have as many fields as the header')
    return Object.fromEntries(names.map((n, i) => [n, r[i] ?? null]))
  })
}

export function parseBody(text: string, contentType: string | undefined): unknown {
  const type = (contentType ?? 'application/json').split(';')[0]!.trim().toLowerCase()
  if (text.trim() === '') return undefined
  if (type === 'text/csv') return parseCsv(text)
  if (type === 'application/x-www-form-urlencoded') return Object.fromEntries(new URLSearchParams(text))
  try {
    return JSON.parse(text)
  } catch {
    throw invalidBody('Empty or invalid json')
  }
}
