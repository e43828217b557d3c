#!/usr/bin/env node
/**
 * Bundles the Lambda handler: src/runtime/lambda.ts → dist/lambda/index.mjs (ESM, node22,
 * minified, with a source map; lazily loaded parts in dist/lambda/chunks/). `sam build` runs this same script (Makefile target
 * build-ResolutionFunction), so both produce the same bundle.
 *
 * The embedded database (PGlite, WASM, ~10 MB) has no place on Lambda: the module that loads it
 * is replaced by a stub that throws, so the bundle carries none of it.
 * Usage: node scripts/build-lambda.mjs [--outdir dist/lambda] [--metafile]
 */
import { mkdir, rm, stat, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { outdir: { type: 'string', default: 'dist/lambda' }, metafile: { type: 'boolean', default: false } } })
const outdir = path.resolve(root, values.outdir)
// esbuild lays the bundle out as if in dist/lambda, whatever --outdir says: the source maps name
// sources relative to it and chunk names hash the maps, so another outdir would change the bytes.
const layoutDir = path.join(root, 'dist/lambda')

/** Replaces the PGlite driver with a stub and refuses any other path to @electric-sql/*. */
const noEmbeddedDatabase = {
  name: 'no-embedded-database',
  setup(build) {
    build.onResolve({ filter: /(^|\/)pglite-driver(\.ts)?$/ }, () => ({ path: 'pglite-driver', namespace: 'lambda-stub' }))
    build.onLoad({ filter: /.*/, namespace: 'lambda-stub' }, () => ({
      contents:
        "export async function createPgliteDatabase() { throw new Error('The embedded database is not available on Lambda: set DATABASE_URL') }",
      loader: 'js',
    }))
    build.onResolve({ filter: /^@electric-sql\// }, (args) => ({
      errors: [{ text: `${args.path} must not reach the Lambda bundle (imported by ${args.importer})` }],
    }))
  },
}

const lambdaBuildOptions = {
  entryPoints: [path.join(root, 'src/runtime/lambda.ts')],
  outdir: layoutDir,
  write: false,
  entryNames: 'index',
  // What the handler imports only on first use (the S3 backend and its AWS SDK, WebAuthn) goes
  // into chunks beside index.mjs, loaded when needed: the cold start reads index.mjs alone.
  splitting: true,
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node22',
  minify: true,
  sourcemap: true,
  legalComments: 'none',
  // pg's optional native binding is never used. The AWS SDK is bundled (in its chunk) at the
  // version we pin and test, not taken from whatever the Lambda runtime ships. sharp (image
  // transformations) is native and stays out: its import fails on Lambda and /render/image answers 501.
  external: ['pg-native', 'sharp'],
  // CommonJS dependencies (pg, pino) call require(); give the ESM bundle one.
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  plugins: [noEmbeddedDatabase],
  metafile: true,
  logLevel: 'warning',
}

await rm(outdir, { recursive: true, force: true })
await mkdir(outdir, { recursive: true })
const result = await esbuild.build(lambdaBuildOptions)
for (const file of result.outputFiles) {
  const target = path.join(outdir, path.relative(layoutDir, file.path))
  await mkdir(path.dirname(target), { recursive: true })
  await writeFile(target, file.contents)
}
if (values.metafile) await writeFile(path.join(outdir, 'meta.json'), JSON.stringify(result.metafile))
const { size } = await stat(path.join(outdir, 'index.mjs'))
console.log(`${path.relative(root, path.join(outdir, "index.mjs"))} ${(size / 1024).toFixed(1)} KiB`)
