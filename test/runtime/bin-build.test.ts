/**
 * Issue 16: `npm start` (bin/resolution.mjs) runs the compiled build when it is current — about
 * half a second less start-up than compiling the sources through tsx — and the sources when there
 * is no build or a source file changed after it, so a stale build never runs.
 */
import { execFileSync } from 'node:child_process'
import { cpSync, mkdirSync, mkdtempSync, rmSync, symlinkSync, utimesSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { afterEach, expect, it } from 'vitest'

const repo = path.resolve(import.meta.dirname, '../..')
let dir: string | undefined

/** A copy of the launcher beside stand-ins for the sources and the build that say which ran. */
function layout(files: { sources: boolean; build: boolean }): string {
  dir = mkdtempSync(path.join(os.tmpdir(), 'resolution-bin-'))
  mkdirSync(path.join(dir, 'bin'))
  cpSync(path.join(repo, 'bin/resolution.mjs'), path.join(dir, 'bin/resolution.mjs'))
  symlinkSync(path.join(repo, 'node_modules'), path.join(dir, 'node_modules'))
  cpSync(path.join(repo, 'package.json'), path.join(dir, 'package.json'))
  if (files.sources) {
    mkdirSync(path.join(dir, 'src/cli'), { recursive: true })
    writeFileSync(path.join(dir, 'src/cli/main.ts'), "const ran: string = 'sources'\nconsole.log(ran)\n")
  }
  if (files.build) {
    mkdirSync(path.join(dir, 'dist/node/cli'), { recursive: true })
    writeFileSync(path.join(dir, 'dist/node/cli/main.js'), "console.log('build')\n")
  }
  return dir
}

const run = (root: string) => execFileSync(process.execPath, [path.join(root, 'bin/resolution.mjs')], { encoding: 'utf8' }).trim()
const setMtime = (file: string, secondsAgo: number) => {
  const at = new Date(Date.now() - secondsAgo * 1000)
  utimesSync(file, at, at)
}

afterEach(() => {
  if (dir) rmSync(dir, { recursive: true, force: true })
  dir = undefined
})

it('runs the sources through tsx when there is no build (a fresh clone)', () => {
  expect(run(layout({ sources: true, build: false }))).toBe('sources')
}, 30_000)

it('runs the build when it is newer than every source file', () => {
  const root = layout({ sources: true, build: true })
  setMtime(path.join(root, 'src/cli/main.ts'), 60)
  expect(run(root)).toBe('build')
}, 30_000)

it('runs the sources when one changed after the build', () => {
  const root = layout({ sources: true, build: true })
  setMtime(path.join(root, 'dist/node/cli/main.js'), 60)
  expect(run(root)).toBe('sources')
}, 30_000)

it('runs the build where there are no sources (the container image)', () => {
  expect(run(layout({ sources: false, build: true }))).toBe('build')
}, 30_000)
