// Self-check for the memory scenario: preloaded into `serve`, it keeps 4 KB per HTTP request for
// ever, a leak the scenario must catch. It must FAIL with this:
//   RELIABILITY_SERVE_NODE_OPTIONS="--import $PWD/bench/reliability/leak-injector.mjs" npm run test:reliability -- memory
import http from 'node:http'

const kept = []
const emit = http.Server.prototype.emit
http.Server.prototype.emit = function (event, ...args) {
  if (event === 'request') kept.push(Buffer.alloc(4096, 1))
  return emit.call(this, event, ...args)
}
