#!/usr/bin/env node
// Runs the TypeScript sources through tsx in a clone; the compiled build where sources are absent (container image).
import { existsSync } from 'node:fs'

const source = new URL('../src/cli/main.ts', import.meta.url)
if (existsSync(source)) {
  const { register } = await import('tsx/esm/api')
  register()
  await import(source.href)
} else {
  await import('../dist/node/cli/main.js')
}
