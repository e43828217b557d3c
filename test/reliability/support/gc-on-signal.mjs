// Preloaded into `serve` by the memory scenario: SIGUSR2 runs a full garbage collection, so RSS
// can be read after it (retained memory) instead of at a random point of the GC saw-tooth.
import v8 from 'node:v8'
import vm from 'node:vm'

v8.setFlagsFromString('--expose-gc')
const gc = vm.runInNewContext('gc')
process.on('SIGUSR2', () => gc())
