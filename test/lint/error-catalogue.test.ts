/**
 * The error catalogue is closed: an `HttpError` carries only a code some catalogue lists (the
 * compiler checks it: the `@ts-expect-error` lines fail the lint when a made-up code compiles),
 * and lint refuses errors built outside the catalogue modules.
 */
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { ESLint } from 'eslint'
import { describe, expect, it } from 'vitest'
import { authError } from '../../src/auth/errors.ts'
import { appError, ErrorCodes, HttpError } from '../../src/errors.ts'
import { pgrstError } from '../../src/rest/errors.ts'
import { VaultError } from '../../src/vault/errors.ts'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..')
const eslint = new ESLint({ cwd: root })

describe('error codes', () => {
  it('come from the catalogues, with their statuses', () => {
    expect(appError('bad_jwt', 'no').status).toBe(401)
    expect(appError('no_api_key', 'no', { hint: 'send one' }).body).toEqual({ code: 'no_api_key', message: 'no', hint: 'send one' })
    expect(appError('forbidden', 'no').body).toEqual({ code: 'forbidden', message: 'no' })
    expect(new VaultError('vault_secret_not_found', 'no').status).toBe(404)
    expect(authError(422, 'email_exists', 'taken').code).toBe('email_exists')
    expect(pgrstError(404, 'PGRST205', 'no table').body).toMatchObject({ code: 'PGRST205' })
    expect(pgrstError(409, '23505', 'duplicate').code).toBe('23505')
    expect(Object.values(ErrorCodes).every((status) => status >= 400 && status < 600)).toBe(true)
  })

  it('refuse a made-up code at compile time', () => {
    // Never called: what matters is that each line fails to compile (tsc runs in `npm run lint`).
    const madeUp = () => [
      // @ts-expect-error not in any catalogue
      appError('made_up', 'x'),
      // @ts-expect-error not in any catalogue
      new HttpError(400, 'made_up', 'x'),
      // @ts-expect-error an auth code is not PostgREST's
      pgrstError(400, 'email_exists', 'x'),
      // @ts-expect-error a vault code needs the vault's class
      authError(400, 'vault_invalid_request', 'x'),
    ]
    expect(madeUp).toBeTypeOf('function')
  })
})

/** The messages of the error-catalogue restriction for `code` linted as the file `file`. */
async function catalogueErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: path.join(root, file) })
  return result!.messages.filter((m) => m.ruleId === 'no-restricted-syntax').map((m) => m.message)
}

describe('error catalogue lint', () => {
  it('refuses errors built outside a catalogue module', async () => {
    const adHoc = "import { HttpError } from '../errors.ts'\nexport const e = new HttpError(401, 'bad_jwt', 'no')"
    expect(await catalogueErrors('src/http/planted.ts', adHoc)).toEqual([expect.stringMatching(/through a catalogue/)])
    const subclass = "import { HttpError } from '../errors.ts'\nexport class Mine extends HttpError {}"
    expect(await catalogueErrors('src/rest/planted.ts', subclass)).toEqual([expect.stringMatching(/belong in a catalogue module/)])
  })

  it('lets the catalogue modules build them', async () => {
    const code = "import { HttpError } from '../errors.ts'\nexport const e = new HttpError(404, 'PGRST205', 'no')"
    expect(await catalogueErrors('src/rest/errors.ts', code)).toEqual([])
    expect(await catalogueErrors('src/errors.ts', "export class HttpError extends Error {}\nexport const e = new HttpError()")).toEqual([])
  })
})

