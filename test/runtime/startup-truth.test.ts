/**
 * Start-up tells the truth: real `resolution` processes (what `npm start` and the container run),
 * their one-line refusals, `.env`, `/health` while the bootstrap runs, and no keys in production logs.
 */
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import pg from 'pg'
import { afterAll, describe, expect, it } from 'vitest'
import { createJwtService, issueApiKey } from '../../src/jwt/service.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createLambdaRuntime } from '../../src/runtime/lambda-runtime.ts'
import { createServerDatabase, targets } from '../support/databases.ts'
import { freePort } from '../support/ports.ts'
import { killRunning, runResolution as run } from '../support/processes.ts'

const SECRET = 'startup-truth-secret-with-at-least-32-chars'
afterAll(killRunning)


async function keys(secret = SECRET) {
  const jwt = await createJwtService(loadConfig({ JWT_SECRET: secret }))
  return { anon: await issueApiKey(jwt, 'anon'), service: await issueApiKey(jwt, 'service_role') }
}

const tmp = (prefix: string) => mkdtempSync(path.join(os.tmpdir(), prefix))

describe('start-up refusals are one line', () => {
  it('ANON_KEY signed with another secret, or a key with the wrong role, stops serve', async () => {
    const mine = await keys()
    const other = await keys('another-secret-that-is-at-least-32-characters')
    const foreign = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: tmp('resolution-keys-'), JWT_SECRET: SECRET, ANON_KEY: other.anon, SERVICE_ROLE_KEY: mine.service })
    expect(await foreign.exit).toBe(1)
    expect(foreign.stderr()).toBe('resolution: ANON_KEY: does not verify with the configured JWT_SECRET/JWT_KEYS; make matching keys with `resolution keys`\n')
    const swapped = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: tmp('resolution-keys-'), JWT_SECRET: SECRET, ANON_KEY: mine.anon, SERVICE_ROLE_KEY: mine.anon })
    expect(await swapped.exit).toBe(1)
    expect(swapped.stderr()).toBe('resolution: SERVICE_ROLE_KEY: has role "anon", expected service_role\n')
  }, 60_000)

  it('an impossible data dir fails at once', async () => {
    const started = Date.now()
    const bad = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: '/proc/x' })
    expect(await bad.exit).toBe(1)
    expect(bad.stderr()).toBe('resolution: RESOLUTION_DATA_DIR: /proc/x is not writable (ENOENT)\n')
    expect(Date.now() - started).toBeLessThan(15_000)
  }, 30_000)

  it('production with confirmation on and no SMTP_URL is refused', async () => {
    const mine = await keys()
    const env = { NODE_ENV: 'production', PORT: '0', DATABASE_URL: 'postgres://app@127.0.0.1:1/app', JWT_SECRET: SECRET, ANON_KEY: mine.anon, SERVICE_ROLE_KEY: mine.service }
    const refused = run(['serve'], env)
    expect(await refused.exit).toBe(1)
    expect(refused.stderr()).toBe(
      'resolution: SMTP_URL: is required in production while sign-ups need email confirmation (set SMTP_URL, or AUTH_AUTOCONFIRM=true to confirm without mail)\n',
    )
    // With SMTP, the mail links need the public URLs.
    const noUrl = run(['serve', '--print-config'], { ...env, SMTP_URL: 'smtp://u:p@email-smtp.eu-west-1.amazonaws.com:587' })
    expect(await noUrl.exit).toBe(1)
    expect(noUrl.stderr()).toMatch(/^resolution: API_EXTERNAL_URL: is required in production when SMTP_URL is set/)
    const complete = run(['serve', '--print-config'], { ...env, SMTP_URL: 'smtp://u:p@email-smtp.eu-west-1.amazonaws.com:587', API_EXTERNAL_URL: 'https://api.example.com/auth/v1', SITE_URL: 'https://app.example.com' })
    expect(await complete.exit).toBe(0)
    expect(JSON.parse(complete.stdout())).toMatchObject({ smtpUrl: 'smtp://u:****@email-smtp.eu-west-1.amazonaws.com:587', auth: { externalUrl: 'https://api.example.com/auth/v1' } })
  }, 60_000)

  it('db migrate on an embedded database that was never initialised says to run db init', async () => {
    const dir = tmp('resolution-migrations-')
    writeFileSync(path.join(dir, '20240101000000_a.sql'), 'CREATE TABLE public.a (id int);\n')
    const r = run(['db', 'migrate', '--dir', dir], { RESOLUTION_DATA_DIR: tmp('resolution-fresh-') })
    expect(await r.exit).toBe(1)
    expect(r.stderr()).toMatch(/^resolution: embedded PGlite at .* is not bootstrapped .*: run `resolution db init` first\n$/)
  }, 60_000)

  it('env.json.example placeholders stop the Lambda at INIT with one line naming the variable', async () => {
    const example = JSON.parse(readFileSync('env.json.example', 'utf8')) as { ResolutionFunction: Record<string, string> }
    const lines: string[] = []
    const runtime = await createLambdaRuntime({ ...example.ResolutionFunction, NODE_ENV: 'production', AUTH_AUTOCONFIRM: 'true' }, { log: (line) => lines.push(line) })
    expect(runtime.startupError).toBe('ANON_KEY: does not verify with the configured JWT_SECRET/JWT_KEYS; make matching keys with `resolution keys`')
  })
})

describe('.env in the working directory', () => {
  it('is read, and the real environment wins', async () => {
    const cwd = tmp('resolution-dotenv-')
    writeFileSync(path.join(cwd, '.env'), '# local\nPORT=5123\nLOG_LEVEL=debug\nDB_SCHEMAS="public,api"\nSITE_URL=http://localhost:4000 # inline comment\n')
    const shown = run(['serve', '--print-config'], { LOG_LEVEL: 'warn', RESOLUTION_DATA_DIR: path.join(cwd, 'data') }, cwd)
    expect(await shown.exit).toBe(0)
    const config = JSON.parse(shown.stdout())
    expect(config).toMatchObject({ port: 5123, logLevel: 'warn', dbSchemas: ['public', 'api'], siteUrl: 'http://localhost:4000' })
  }, 60_000)
})

describe.runIf(targets().includes('postgres'))('start-up on PostgreSQL', () => {
  it('a missing database or role is one line, not a stack', async () => {
    const base = new URL(process.env.TEST_DATABASE_URL!)
    const noDb = new URL(base)
    noDb.pathname = '/resolution_no_such_database'
    const a = run(['serve'], { PORT: '0', DATABASE_URL: noDb.toString(), JWT_SECRET: SECRET })
    expect(await a.exit).toBe(1)
    expect(a.stderr()).toMatch(/^resolution: DATABASE_URL: database "resolution_no_such_database" does not exist \(postgres:\/\/.*\); create it/)
    expect(a.stderr().trim().split('\n')).toHaveLength(1)
    const noRole = new URL(base)
    noRole.username = 'resolution_no_such_role'
    const b = run(['db', 'status'], { DATABASE_URL: noRole.toString() })
    expect(await b.exit).toBe(1)
    expect(b.stderr()).toMatch(/^resolution: DATABASE_URL: role "resolution_no_such_role" does not exist; create the role/)
    expect(b.stderr().trim().split('\n')).toHaveLength(1)
  }, 60_000)

  it('/health is 503 starting until the bootstrap is done; the production ready line comes after, without keys', async () => {
    const database = await createServerDatabase()
    // Holding the bootstrap's advisory lock keeps the bootstrap waiting, as a slow one would.
    const holder = new pg.Client({ connectionString: database.url })
    await holder.connect()
    await holder.query('SELECT pg_advisory_lock(7215553893301)')
    const mine = await keys()
    const port = await freePort()
    const r = run(['serve'], {
      NODE_ENV: 'production', PORT: String(port), DATABASE_URL: database.url, JWT_SECRET: SECRET,
      ANON_KEY: mine.anon, SERVICE_ROLE_KEY: mine.service, AUTH_AUTOCONFIRM: 'true',
    })
    try {
      let health: Response | undefined
      for (let i = 0; i < 300 && !health; i++) {
        health = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
        if (!health) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(health!.status).toBe(503)
      expect(await health!.json()).toMatchObject({ code: 'starting' })
      expect(r.stdout(), r.stdout()).not.toContain('resolution ready')
      await holder.query('SELECT pg_advisory_unlock(7215553893301)')
      let status = 0
      for (let i = 0; i < 300 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/health`).then((x) => x.status, () => 0)
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(status).toBe(200)
      for (let i = 0; i < 100 && !r.stdout().includes('ready'); i++) await new Promise((resolve) => setTimeout(resolve, 50))
      expect(r.stdout()).toMatch(/^resolution ready on http:\/\/localhost:\d+ {2}database: postgres:\/\/\S+$/m)
      expect(r.stdout()).not.toMatch(/anon key/)
      for (const output of [r.stdout(), r.stderr()]) {
        expect(output).not.toContain(mine.service)
        expect(output).not.toContain(mine.anon)
        expect(output).not.toContain('service_role key')
      }
      r.child.kill('SIGTERM')
      expect(await r.exit).toBe(0)
    } finally {
      r.child.kill('SIGKILL')
      await holder.end()
      await database.drop()
    }
  }, 120_000)
})
