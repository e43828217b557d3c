/**
 * Vitest global set-up: two PGlite data directories, an empty one (initdb done) and a
 * bootstrapped one, as tarballs every suite starts its fresh PGlite from. Starting from a tarball
 * skips PGlite's initdb, which is most of an instance's start-up (≈ 1.2 s instead of 3–7 s on two
 * busy cores), and a suite opens one or more instances. Each instance still gets its own copy:
 * nothing is shared between suites but the starting bytes.
 *
 * Making them costs an initdb and a bootstrap, so they are kept in the temp folder under a digest
 * of what they are made from (the bootstrap's and the driver's sources, PGlite's version): an edit
 * to any of those makes new ones. Ones unused for a day are removed (not sooner: a run in another
 * checkout may be reading its own).
 */
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, statSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import type { TestProject } from 'vitest/node'
import { createPgliteDatabase } from '../../src/db/pglite-driver.ts'
import { bootstrap } from '../../src/schema/bootstrap.ts'

declare module 'vitest' {
  export interface ProvidedContext {
    /** Folder holding `empty.tar` and `bootstrapped.tar` (see pglite-templates.ts). */
    pgliteTemplates: string
  }
}

const root = path.resolve(import.meta.dirname, '../..')
const cache = path.join(os.tmpdir(), 'resolution-pglite-templates')
const DAY_MS = 24 * 60 * 60 * 1000

/** A digest of every file the templates depend on. */
function sourcesDigest(): string {
  const hash = createHash('sha256')
  for (const dir of ['src/schema', 'src/db']) {
    const files = readdirSync(path.join(root, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name))
      .sort()
    for (const file of files) hash.update(file).update(readFileSync(file))
  }
  hash.update(readFileSync(path.join(root, 'node_modules/@electric-sql/pglite/package.json')))
  return hash.digest('hex').slice(0, 16)
}

async function makeTemplates(dir: string): Promise<void> {
  const building = `${dir}.${process.pid}`
  mkdirSync(building, { recursive: true })
  const database = await createPgliteDatabase()
  try {
    const dump = async (name: string) => {
      const tarball = await database.withPglite((pglite) => pglite.dumpDataDir('none'))
      writeFileSync(path.join(building, name), Buffer.from(await tarball.arrayBuffer()))
    }
    await dump('empty.tar')
    await bootstrap(database)
    await dump('bootstrapped.tar')
  } finally {
    await database.close()
  }
  // Another run may have made them meanwhile (even between the check and the rename): either copy is good.
  try {
    if (!existsSync(dir)) return renameSync(building, dir)
  } catch (error) {
    if (!existsSync(dir)) throw error
  }
  rmSync(building, { recursive: true, force: true })
}

export default async function provideTemplates(project: TestProject): Promise<void> {
  const dir = path.join(cache, sourcesDigest())
  if (existsSync(dir)) utimesSync(dir, new Date(), new Date())
  else await makeTemplates(dir)
  for (const entry of readdirSync(cache)) {
    const other = path.join(cache, entry)
    if (Date.now() - statSync(other).mtimeMs > DAY_MS) rmSync(other, { recursive: true, force: true })
  }
  project.provide('pgliteTemplates', dir)
}
