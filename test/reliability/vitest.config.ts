/**
 * The reliability scenarios run on their own (`npm run test:reliability`; long form with
 * RELIABILITY_LONG=1), one file at a time: they load a real server and time recoveries, so two at
 * once on a small machine would measure each other. `npm test` leaves them out (see the root
 * config): the short form takes a few minutes, not seconds.
 */
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

const long = process.env.RELIABILITY_LONG === '1'

export default defineConfig({
  test: {
    root: fileURLToPath(new URL('../..', import.meta.url)),
    include: ['test/reliability/**/*.test.ts'],
    testTimeout: long ? 3_600_000 : 180_000,
    hookTimeout: 180_000,
    pool: 'forks',
    fileParallelism: false,
  },
})
