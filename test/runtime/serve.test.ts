/**
 * `resolution serve` as a newcomer runs it (`npm start` runs exactly this): a real process on
 * the embedded database, its ready line, its keys, its one-line failures and its SIGTERM drain.
 */
import { mkdtempSync } from 'node:fs'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { afterAll, describe, expect, it } from 'vitest'
import { freePort } from '../support/ports.ts'
import { killRunning, runResolution as run, waitFor, type Run } from '../support/processes.ts'

afterAll(killRunning)

function readyLine(r: Run) {
  const match = /resolution ready on (http:\/\/\S+).*\n\s+anon key:\s+(\S+)\n\s+service_role key:\s+(\S+)/.exec(r.stdout())
  return match ? { url: match[1]!, anon: match[2]!, service: match[3]! } : undefined
}


describe('resolution serve on the embedded database', () => {
  const dataDir = mkdtempSync(path.join(os.tmpdir(), 'resolution-serve-'))

  it('bootstraps a fresh data dir, prints one ready line with both keys, and drains on SIGTERM', async () => {
    const first = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: dataDir })
    const ready = await waitFor(() => readyLine(first))
    const health = await fetch(`${ready.url}/health`)
    expect(health.status).toBe(200)

    // A second process on the same data dir gets one clear line, not a corrupted database.
    const second = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: dataDir })
    expect(await second.exit).toBe(1)
    expect(second.stderr()).toMatch(/^resolution: RESOLUTION_DATA_DIR: .* is in use by another resolution process/)

    const started = Date.now()
    first.child.kill('SIGTERM')
    expect(await first.exit).toBe(0)
    expect(Date.now() - started).toBeLessThan(10_000)

    // Restarting keeps the keys generated the first time.
    const again = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: dataDir })
    const readyAgain = await waitFor(() => readyLine(again))
    expect(readyAgain.anon).toBe(ready.anon)
    expect(readyAgain.service).toBe(ready.service)
    again.child.kill('SIGTERM')
    expect(await again.exit).toBe(0)
  }, 120_000)

  it('stops with one line naming the variable for bad configuration', async () => {
    const bad = run(['serve'], { DATABASE_URL: 'mysql://x', RESOLUTION_DATA_DIR: dataDir })
    expect(await bad.exit).toBe(1)
    expect(bad.stderr()).toBe('resolution: DATABASE_URL: must start with postgres:// or postgresql://, got mysql://\n')
  })

  it('says when the data dir is not writable', async () => {
    const bad = run(['serve'], { PORT: '0', RESOLUTION_DATA_DIR: '/etc/hostname/data' })
    expect(await bad.exit).toBe(1)
    expect(bad.stderr()).toMatch(/^resolution: RESOLUTION_DATA_DIR: \/etc\/hostname\/data is not writable/)
    expect(bad.stderr().trim().split('\n')).toHaveLength(1)
  })

  it('says when the port is in use', async () => {
    const blocker = net.createServer()
    await new Promise<void>((resolve) => blocker.listen(0, resolve))
    const port = (blocker.address() as net.AddressInfo).port
    try {
      const bad = run(['serve'], { PORT: String(port), RESOLUTION_DATA_DIR: mkdtempSync(path.join(os.tmpdir(), 'resolution-port-')) })
      expect(await bad.exit).toBe(1)
      expect(bad.stderr()).toBe(`resolution: PORT: port ${port} is already in use; stop the other process or set PORT\n`)
    } finally {
      blocker.close()
    }
  }, 60_000)

  it('prints the effective config with secrets masked', async () => {
    const shown = run(['serve', '--print-config'], { RESOLUTION_DATA_DIR: dataDir, JWT_SECRET: 's'.repeat(40) })
    expect(await shown.exit).toBe(0)
    const config = JSON.parse(shown.stdout())
    expect(config.jwtSecret).toBe('********')
    expect(config.anonKey).toBe('********')
    expect(shown.stdout()).not.toContain('s'.repeat(40))
  })
})

describe('resolution serve with an unreachable database server', () => {
  it('keeps running, answers 503 on /health, and does not crash', async () => {
    const port = await freePort()
    const r = run(['serve'], { PORT: String(port), DATABASE_URL: 'postgres://nobody@127.0.0.1:1/none', JWT_SECRET: 'j'.repeat(40) })
    let response: Response | undefined
    for (let attempt = 0; attempt < 600 && !response; attempt++) {
      response = await fetch(`http://127.0.0.1:${port}/health`).catch(() => undefined)
      if (!response) await new Promise((resolve) => setTimeout(resolve, 100))
    }
    expect(response?.status).toBe(503)
    expect(await response!.json()).toMatchObject({ code: 'database_unavailable' })
    expect(r.child.exitCode).toBeNull()
    r.child.kill('SIGTERM')
    expect(await r.exit).toBe(0)
  }, 60_000)
})
