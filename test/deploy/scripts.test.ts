/**
 * The shell scripts of the deployment: shellcheck-clean (Debian's shellcheck; .ci/run installs
 * it), and their behaviour where it needs no AWS and no Docker: `infra/ec2/run.sh --dry-run` prints
 * the exact docker commands and refuses env files Docker would mangle; `scripts/ecr.sh` checks
 * its arguments before calling anything.
 */
import { execFile } from 'node:child_process'
import { chmodSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'

const exec = promisify(execFile)
const tmp = mkdtempSync(path.join(os.tmpdir(), 'resolution-scripts-'))

async function sh(file: string, args: string[], env: Record<string, string> = {}) {
  try {
    const { stdout, stderr } = await exec('bash', [file, ...args], { env: { PATH: process.env.PATH ?? '', HOME: tmp, ...env }, timeout: 30_000 })
    return { code: 0, stdout, stderr }
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string }
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr }
  }
}

function shellScripts(): string[] {
  const found: string[] = []
  for (const dir of ['scripts', 'infra', 'infra/ec2', '.ci']) {
    let entries: string[] = []
    try {
      entries = readdirSync(dir)
    } catch {
      continue
    }
    for (const entry of entries) if (entry.endsWith('.sh')) found.push(path.join(dir, entry))
  }
  return found
}

const hasShellcheck = await exec('shellcheck', ['--version']).then(
  () => true,
  () => false,
)

describe('shell scripts', () => {
  it('include the ECR and EC2 scripts', () => {
    expect(shellScripts()).toEqual(expect.arrayContaining(['scripts/ecr.sh', 'infra/ec2/run.sh']))
  })

  it.skipIf(!hasShellcheck)('pass shellcheck (all severities)', async () => {
    const scripts = [...shellScripts(), '.ci/run']
    const result = await exec('shellcheck', ['--shell=bash', '--severity=style', ...scripts]).then(
      () => '',
      (error: { stdout: string }) => error.stdout,
    )
    expect(result).toBe('')
  })
})

function envFile(name: string, lines: string[], mode = 0o600): string {
  const file = path.join(tmp, name)
  writeFileSync(file, lines.join('\n') + '\n')
  chmodSync(file, mode)
  return file
}

const GOOD = ['DATABASE_URL=postgres://u:p@db:5432/postgres', 'JWT_SECRET=0123456789abcdef0123456789abcdef', 'ANON_KEY=a.b.c', 'SERVICE_ROLE_KEY=d.e.f']
const IMAGE = '123456789012.dkr.ecr.eu-west-1.amazonaws.com/resolution:abc123'

describe('infra/ec2/run.sh', () => {
  it('logs in to the registry, pulls, replaces the container and runs it on 80 → 5050 with --init and a restart policy', async () => {
    const file = envFile('good.env', GOOD)
    const result = await sh('infra/ec2/run.sh', ['--dry-run', '--image', IMAGE, '--env-file', file, '--profile', 'prod-sso'])
    expect(result.code).toBe(0)
    expect(result.stdout.trim().split('\n')).toEqual([
      'aws --region eu-west-1 --profile prod-sso ecr get-login-password | docker login --username AWS --password-stdin 123456789012.dkr.ecr.eu-west-1.amazonaws.com',
      `docker pull ${IMAGE}`,
      'docker rm --force resolution',
      `docker run --env-file ${file} -d -p 80:5050 --restart unless-stopped --init --name resolution ${IMAGE}`,
    ])
  })

  it('refuses quoted values, which docker --env-file would pass with their quotes', async () => {
    const file = envFile('quoted.env', [...GOOD, 'SITE_URL="https://app.example.com"'])
    const result = await sh('infra/ec2/run.sh', ['--dry-run', '--image', IMAGE, '--env-file', file])
    expect(result.code).toBe(2)
    expect(result.stderr).toContain('quoted values')
  })

  it('refuses an env file without a required variable, or no image, or a bad port', async () => {
    const missing = envFile('missing.env', GOOD.filter((line) => !line.startsWith('SERVICE_ROLE_KEY')))
    expect((await sh('infra/ec2/run.sh', ['--dry-run', '--image', IMAGE, '--env-file', missing])).stderr).toContain('does not set SERVICE_ROLE_KEY')
    const good = envFile('good2.env', GOOD)
    const noImage = await sh('infra/ec2/run.sh', ['--dry-run', '--env-file', good])
    expect(noImage.code).toBe(2)
    expect(noImage.stderr).toContain('--image is required')
    const badPort = await sh('infra/ec2/run.sh', ['--dry-run', '--image', IMAGE, '--env-file', good, '--port', '99999'])
    expect(badPort.code).toBe(2)
    const noFile = await sh('infra/ec2/run.sh', ['--dry-run', '--image', IMAGE, '--env-file', path.join(tmp, 'nope.env')])
    expect(noFile.stderr).toContain('not found')
  })

  it('warns about an env file others can read', async () => {
    const file = envFile('open.env', GOOD, 0o644)
    const result = await sh('infra/ec2/run.sh', ['--dry-run', '--no-pull', '--image', IMAGE, '--env-file', file, '--port', '8080'])
    expect(result.code).toBe(0)
    expect(result.stderr).toContain('mode 644')
    expect(result.stdout).toContain('-p 8080:5050')
    expect(result.stdout).not.toContain('docker pull')
  })
})

describe('scripts/ecr.sh', () => {
  it('prints its usage', async () => {
    const result = await sh('scripts/ecr.sh', ['--help'])
    expect(result.code).toBe(0)
    expect(result.stdout).toContain('push-lambda')
  })

  it('checks the account id and the command before calling AWS or Docker', async () => {
    const badAccount = await sh('scripts/ecr.sh', ['push', '--region', 'eu-west-1', '--account', '12345'])
    expect(badAccount.code).toBe(2)
    expect(badAccount.stderr).toContain('must be 12 digits')
    const unknown = await sh('scripts/ecr.sh', ['launch', '--region', 'eu-west-1', '--account', '123456789012', '--tag', 'x'])
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toContain('unknown command launch')
    const badOption = await sh('scripts/ecr.sh', ['push', '--regoin', 'eu-west-1'])
    expect(badOption.code).toBe(2)
    expect(badOption.stderr).toContain('unknown option --regoin')
  })
})
