// storage-js's jest tests under this repository's vitest (`globals`, `jest` = `vi`): the package's
// jest toolchain is not needed. iceberg-js (analytics buckets, not served here) is stubbed.
import path from 'node:path'

const here = import.meta.dirname
export default {
  resolve: { alias: { 'iceberg-js': path.join(here, 'iceberg-stub.mjs') } },
  test: {
    globals: true,
    setupFiles: [path.join(here, 'jest-shim.mjs')],
    include: ['test/storageFileApi.test.ts', 'test/storageBucketApi.test.ts', 'test/storageApi.test.ts', 'test/storageFileApiNode.test.ts'],
    testTimeout: 30_000,
    fileParallelism: false,
  },
}
