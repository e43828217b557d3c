/**
 * The floors of src/ are enforced by `npm run lint` (rule `layers/floors` in eslint.config.js):
 * planted imports that run uphill or across API families must fail, clean ones must not, and
 * the tree as it is must be clean.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const eslint = new ESLint({ cwd: root })

/** The `layers/floors` messages for `code` linted as if it were the file `file` (under root). */
async function floorErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) })
  return result!.messages.filter((m) => m.ruleId === 'layers/floors').map((m) => m.message)
}

describe('layers/floors', () => {
  it.each([
    ['src/db/planted.ts', "import { dump } from '../dbtools/dump.ts'\nexport { dump }", /'db' .* must not import 'dbtools'/],
    ['src/config/planted.ts', "import { createJwtService } from '../auth/router.ts'\nexport { createJwtService }", /'config' .* must not import 'auth'/],
    ['src/errors.ts', "import type { RestConfig } from './rest/router.ts'\nexport type X = RestConfig", /'errors.ts' .* must not import 'rest'/],
    ['src/http/planted.ts', "export { restRouter } from '../rest/router.ts'", /'http' .* must not import 'rest'/],
    ['src/dbtools/restore/planted.ts', "import { x } from '../../vault/store.ts'\nexport { x }", /'dbtools' .* must not import 'vault'/],
    ['src/schema/planted.ts', "export async function f() { return import('../http/health.ts') }", /'schema' .* must not import 'http'/],
    ['src/rest/planted.ts', "import { serve } from '../runtime/node-server.ts'\nexport { serve }", /'rest' .* must not import 'runtime'/],
    ['src/app.ts', "import { serve } from './runtime/node-server.ts'\nexport { serve }", /'app.ts' .* must not import 'runtime'/],
    ['src/vault/planted.ts', "import { createServices } from '../services.ts'\nexport { createServices }", /'vault' .* must not import 'services.ts'/],
    ['src/db/planted.ts', "import { type Services } from '../services.ts'\nimport { x } from '../services.ts'\nexport type S = Services\nexport { x }", /'db' .* must not import 'services.ts'/],
  ])('%s: an uphill import fails', async (file, code, expected) => {
    const errors = await floorErrors(file, code)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(expected)
  })

  it.each([
    ['src/auth/planted.ts', "import { restRouter } from '../rest/router.ts'\nexport { restRouter }"],
    ['src/rest/parse/planted.ts', "import type { VaultStore } from '../../vault/store.ts'\nexport type V = VaultStore"],
  ])('%s: an API family importing another fails', async (file, code) => {
    const errors = await floorErrors(file, code)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatch(/must not import another family's module/)
  })

  it('a folder on no floor fails until it is given one', async () => {
    expect(await floorErrors('src/console/planted.ts', 'export const x = 1')).toEqual([expect.stringMatching(/'console' is on no floor/)])
    expect(await floorErrors('src/db/planted.ts', "export { x } from '../console/x.ts'")).toEqual([expect.stringMatching(/'console' is on no floor/)])
  })

  it('imports down the floors, within a unit and of the Services type pass', async () => {
    const clean = [
      "import type { Services } from '../services.ts'",
      "import { authenticate } from '../http/principal.ts'",
      "import { ANON_ROLE } from '../jwt/principal.ts'",
      "import type { RestConfig } from '../config/rest.ts'",
      "import { ident } from '../db/sql.ts'",
      "import { HttpError } from '../errors.ts'",
      "import { jwtError } from './errors.ts'",
      'export type X = [Services, RestConfig]',
      'export const y = [authenticate, ANON_ROLE, ident, HttpError, jwtError]',
    ].join('\n')
    expect(await floorErrors('src/rest/planted.ts', clean)).toEqual([])
    expect(await floorErrors('src/cli/planted.ts', "import { serve } from '../runtime/node-server.ts'\nimport { restore } from '../dbtools/restore/restore.ts'\nexport { serve, restore }")).toEqual([])
    // Tests may import anything: the floors are a rule of src/.
    expect(await floorErrors('test/planted.test.ts', "import { serve } from '../src/runtime/node-server.ts'\nexport { serve }")).toEqual([])
  })

  it('the tree as it is has no import against the floors', async () => {
    const results = await eslint.lintFiles(['src/**/*.ts'])
    const errors = results.flatMap((r) => r.messages.filter((m) => m.ruleId === 'layers/floors').map((m) => `${path.relative(root, r.filePath)}:${m.line}: ${m.message}`))
    expect(errors).toEqual([])
    expect(results.length).toBeGreaterThan(100)
  })
})
