/**
 * Pieces of the Supabase dump fixtures the bootstrap tests replay: the 2023 `auth` schema of the
 * CLI's initial_schemas/15.sql, the COPY column lists of a 2025 data dump, the INSERTs of a 2024 seed.
 */
import fs from 'node:fs'

const dir = new URL('../fixtures/supabase-dumps/', import.meta.url)
export const readFixture = (name: string) => fs.readFileSync(new URL(name, dir), 'utf8')

export const INITIAL_SCHEMA_15 = 'supabase_cli__internal_utils_templates_initial_schemas_15.sql'
export const DATA_2025 = 'yevhen-o_supabase-test__prisma_backups_data.sql'
export const SEED_2024 = 'roberts-pumpurs_supabase-rs-utils__supabase_seed.sql'

/** Splits pg_dump text into statements: `;` at a line end, outside `$$` bodies; comment lines dropped. */
export function splitStatements(text: string): string[] {
  const statements: string[] = []
  let current: string[] = []
  let inDollar = false
  for (const line of text.split('\n')) {
    if (!inDollar && (line.startsWith('--') || line.trim() === '')) continue
    current.push(line)
    inDollar = (line.match(/\$\$/g)?.length ?? 0) % 2 === 1 ? !inDollar : inDollar
    if (!inDollar && line.trimEnd().endsWith(';')) {
      statements.push(current.join('\n'))
      current = []
    }
  }
  return statements
}

/**
 * The `auth` objects of the 2023 snapshot: every pg_dump entry whose header says `Schema: auth`
 * (plus the schema itself), without OWNER TO, GRANT and default-privilege statements unless
 * `keepOwners` (the Supabase roles must exist then).
 */
export function auth2023Statements(options: { keepOwners?: boolean } = {}): string[] {
  const text = readFixture(INITIAL_SCHEMA_15)
  // Each entry starts with a "-- Name: …; Type: …; Schema: …; Owner: …" (or "-- Data for Name:") header.
  const entries = text.split(/\n--\n-- (?=(?:Data for )?Name: )/)
  const picked: string[] = []
  for (const entry of entries) {
    const header = entry.slice(0, entry.indexOf('\n'))
    const isAuthSchema = /^Name: auth; Type: SCHEMA;/.test(header) || /^Name: SCHEMA auth; Type: ACL;/.test(header)
    if (!isAuthSchema && !/; Schema: auth;/.test(header)) continue
    if (/Type: (DEFAULT )?ACL;/.test(header) && !options.keepOwners) continue
    for (const statement of splitStatements(entry.slice(entry.indexOf('\n') + 1))) {
      if (/^ALTER \w+( \w+)? .* OWNER TO /s.test(statement) && !options.keepOwners) continue
      picked.push(statement)
    }
  }
  return picked
}

export interface CopyBlock {
  table: string
  columns: string[]
  sql: string
}

/** The `COPY "schema"."table" (…) FROM stdin;` headers of a data dump. */
export function copyBlocks(name: string, schema: string): CopyBlock[] {
  const blocks: CopyBlock[] = []
  const pattern = /^COPY "([^"]+)"\."([^"]+)" \(([^)]*)\) FROM stdin;$/gm
  for (const match of readFixture(name).matchAll(pattern)) {
    if (match[1] !== schema) continue
    blocks.push({ table: match[2]!, columns: match[3]!.split(', ').map((c) => c.replaceAll('"', '')), sql: match[0] })
  }
  return blocks
}

/** The multi-row INSERTs of the seed dump for one schema. */
export function seedInserts(name: string, schema: string): string[] {
  return splitStatements(readFixture(name)).filter((s) => s.startsWith(`INSERT INTO "${schema}".`))
}
