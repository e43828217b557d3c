import { configDefaults, defineConfig } from 'vitest/config'

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    // Minutes of load and restarts: `npm run test:reliability` runs them (test/reliability/vitest.config.ts).
    exclude: [...configDefaults.exclude, 'test/reliability/**'],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    // PGlite data directories made once per run, that every suite's fresh instance starts from.
    globalSetup: ['test/support/pglite-templates.ts'],
    pool: 'forks',
    // Two cores: more workers only thrash PGlite's WASM start-up.
    maxWorkers: 2,
  },
})
