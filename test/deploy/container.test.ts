/**
 * The container path without a Docker engine: the Dockerfile linted (dockerfile-utils) and its
 * promises asserted (multi-stage, production dependencies only, non-root, port 5050, a node
 * health check on /health, the server command), `.dockerignore` keeping secrets and sources out,
 * and the image's command run for real: `npm run build` output started as the image starts it,
 * answering /health on a real database.
 */
import { execFile, spawn } from 'node:child_process'
import { existsSync, readFileSync, rmSync } from 'node:fs'
import path from 'node:path'
import { promisify } from 'node:util'
import { DockerfileParser, type Instruction } from 'dockerfile-ast'
import pg from 'pg'
import { validate } from 'dockerfile-utils'
import { afterAll, describe, expect, it } from 'vitest'
import { createServerDatabase } from '../support/databases.ts'
import { lambdaEnv } from './support/lambda-env.ts'
import { freePort } from '../support/ports.ts'

const run = promisify(execFile)
const text = readFileSync('Dockerfile', 'utf8')
const dockerfile = DockerfileParser.parse(text)

interface Stage {
  name: string | null
  image: string | null
  platform: string | undefined
  instructions: Instruction[]
}

function stages(): Stage[] {
  const result: Stage[] = []
  for (const instruction of dockerfile.getInstructions()) {
    const keyword = instruction.getKeyword()
    if (keyword === 'FROM') {
      const from = dockerfile.getFROMs().find((f) => f.getRange().start.line === instruction.getRange().start.line)!
      result.push({ name: from.getBuildStage(), image: from.getImage(), platform: from.getPlatformFlag()?.getValue() ?? undefined, instructions: [] })
    } else if (result.length > 0) {
      result.at(-1)!.instructions.push(instruction)
    }
  }
  return result
}

/** The instructions a stage has, including those of the stages it is built FROM. */
function effective(stage: Stage, all: Stage[]): Instruction[] {
  const parent = all.find((s) => s.name === stage.image)
  return [...(parent ? effective(parent, all) : []), ...stage.instructions]
}

/** The instruction's text after the keyword, flags included, on one line. */
function args(instruction: Instruction): string {
  return instruction.toString().replace(/\\\n\s*/g, ' ').replace(/^\S+\s+/, '').trim()
}

describe('Dockerfile', () => {
  const all = stages()
  const final = all.at(-1)!

  it('lints clean (dockerfile-utils: no errors, no warnings)', () => {
    const diagnostics = validate(text)
    expect(diagnostics.map((d) => `${d.range.start.line + 1}: ${d.message}`)).toEqual([])
  })

  it('the linter is not a rubber stamp: a second CMD in a stage is reported', () => {
    expect(validate(`${text}\nCMD ["node"]\n`).length).toBeGreaterThan(0)
  })

  it('is multi-stage: build and deps on the build platform (no emulation), runtime last on node 22 slim', () => {
    expect(all.map((s) => s.name)).toEqual(['lambda-adapter', 'build', 'deps', 'app', 'lambda', 'runtime'])
    for (const name of ['build', 'deps']) expect(all.find((s) => s.name === name)!.platform).toBe('$BUILDPLATFORM')
    expect(final.name).toBe('runtime')
    expect(all.find((s) => s.name === 'app')!.image).toBe('node:${NODE_VERSION}-bookworm-slim')
    expect(text).toMatch(/^ARG NODE_VERSION=22$/m)
  })

  it('builds with npm ci and npm run build, and ships only production dependencies and the compiled output', () => {
    const build = all.find((s) => s.name === 'build')!.instructions.map(args)
    expect(build.some((a) => /npm ci\b/.test(a))).toBe(true)
    expect(build).toContain('npm run build')
    const deps = all.find((s) => s.name === 'deps')!.instructions.map(args)
    expect(deps.some((a) => /npm ci --omit=dev/.test(a))).toBe(true)
    const copies = effective(final, all).filter((i) => i.getKeyword() === 'COPY').map(args)
    expect(copies).toEqual([
      '--chown=node:node package.json ./',
      '--from=deps --chown=node:node /app/node_modules ./node_modules',
      '--from=build --chown=node:node /app/dist/node ./dist/node',
      '--chown=node:node bin ./bin',
    ])
    expect(text).not.toMatch(/^ADD /m)
  })

  it('runs as a non-root user, exposes 5050, sets NODE_ENV and PORT, stops on SIGTERM', () => {
    const instructions = effective(final, all)
    const users = instructions.filter((i) => i.getKeyword() === 'USER').map(args)
    expect(users.at(-1)).toBe('node')
    expect(instructions.filter((i) => i.getKeyword() === 'EXPOSE').map(args)).toEqual(['5050'])
    expect(instructions.filter((i) => i.getKeyword() === 'ENV').map(args)).toContain('NODE_ENV=production PORT=5050')
    expect(instructions.filter((i) => i.getKeyword() === 'STOPSIGNAL').map(args)).toEqual(['SIGTERM'])
    // No secret baked in.
    for (const env of instructions.filter((i) => i.getKeyword() === 'ENV').map(args)) expect(env).not.toMatch(/SECRET|KEY|PASSWORD|DATABASE_URL/)
  })

  it('checks /health with node (no curl in the image) and runs the server', () => {
    const instructions = effective(final, all)
    const [healthcheck] = instructions.filter((i) => i.getKeyword() === 'HEALTHCHECK').map(args)
    expect(healthcheck).toMatch(/CMD \["node", "-e", ".*\/health.*"\]/)
    const cmd = final.instructions.filter((i) => i.getKeyword() === 'CMD').map(args)
    expect(cmd).toEqual(['["node", "dist/node/cli/main.js", "serve"]'])
  })

  it('.dockerignore keeps secrets, dependencies and build output out of the context', () => {
    const ignored = readFileSync('.dockerignore', 'utf8').split('\n').map((l) => l.trim())
    for (const entry of ['.git', 'node_modules', 'dist', '.env', '.env.*', 'env.json', '.aws-sam', '.resolution']) expect(ignored).toContain(entry)
    // What the build copies must not be ignored.
    for (const needed of ['src', 'bin', 'package.json', 'package-lock.json', 'tsconfig.json']) expect(ignored).not.toContain(needed)
  })
})


describe.skipIf(!process.env.TEST_DATABASE_URL)("the image's command, without Docker", () => {
  // Compiled inside the checkout, so package.json ("type": "module") and node_modules resolve as in the image.
  const outDir = path.resolve(`dist/test-image-${process.pid}`)
  afterAll(() => rmSync(outDir, { recursive: true, force: true }))

  it('npm run build compiles; the image command runs db init and serve, answering /health', async () => {
    // The Dockerfile runs `npm run build`; the same compiler run, into a scratch directory.
    const pkg = JSON.parse(readFileSync('package.json', 'utf8')) as { scripts: Record<string, string> }
    expect(pkg.scripts.build).toBe('tsc -p tsconfig.json')
    await run(process.execPath, [path.resolve('node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json', '--outDir', outDir], { timeout: 300_000 }).catch((error: { stdout?: string }) => {
      throw new Error(`npm run build (tsc) fails, so the image build would fail:\n${error.stdout?.slice(0, 3000)}`)
    })
    const main = path.join(outDir, 'cli', 'main.js')
    expect(existsSync(main)).toBe(true)

    const database = await createServerDatabase()
    const port = await freePort()
    const env = { ...(await lambdaEnv(database.url)), PORT: String(port), PATH: process.env.PATH ?? '' }
    // The one-off migration task of docs/deploy.md: `node dist/node/cli/main.js db init` from the image.
    await run(process.execPath, [main, 'db', 'init'], { env, timeout: 120_000 })
    const check = new pg.Client({ connectionString: database.url })
    await check.connect()
    const { rows } = await check.query("SELECT count(*)::int AS n FROM pg_namespace WHERE nspname IN ('auth', 'vault', 'extensions')")
    await check.end()
    expect(rows[0].n).toBe(3)
    // Exactly the image's CMD (node dist/node/cli/main.js serve), with NODE_ENV=production.
    const child = spawn(process.execPath, [main, 'serve'], { env, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (out += chunk))
    const exit = new Promise<number | null>((resolve) => child.on('exit', (code) => resolve(code)))
    try {
      let status = 0
      for (let i = 0; i < 300 && status !== 200; i++) {
        status = await fetch(`http://127.0.0.1:${port}/health`).then((r) => r.status, () => 0)
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100))
      }
      expect(status, out).toBe(200)
      // The HEALTHCHECK of the Dockerfile, run as Docker would run it.
      const healthcheck = /HEALTHCHECK[^\n]*\n\s*CMD \["node", "-e", "(.*)"\]/.exec(text)![1]!.replace(/\\"/g, '"')
      await run(process.execPath, ['-e', healthcheck], { env: { PORT: String(port) }, timeout: 10_000 })
      child.kill('SIGTERM')
      expect(await exit).toBe(0)
    } finally {
      child.kill('SIGKILL')
      await database.drop()
    }
  }, 300_000)
})
