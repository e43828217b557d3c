#!/usr/bin/env node
// Runs the compiled build (`npm run build`) when it is there and newer than every source file:
// ≈ 0.5 s less start-up than compiling through tsx. In a clone without a build, or after an edit
// to the sources since the last build, the TypeScript sources run through tsx, so a stale build
// never runs. The container image holds only the build.
import { existsSync, readdirSync, statSync } from 'node:fs'
import { fileURLToPath } from 'node:url'

const source = new URL('../src/cli/main.ts', import.meta.url)
const built = new URL('../dist/node/cli/main.js', import.meta.url)

/** The newest modification time of a file under `dir`, ms. */
function newestMtime(dir) {
  let newest = 0
  for (const entry of readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (entry.isFile()) newest = Math.max(newest, statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs)
  }
  return newest
}

const buildIsCurrent = () => existsSync(built) && statSync(built).mtimeMs >= newestMtime(fileURLToPath(new URL('../src', import.meta.url)))

if (!existsSync(source) || buildIsCurrent()) {
  await import(built.href)
} else {
  const { register } = await import('tsx/esm/api')
  register()
  await import(source.href)
}
