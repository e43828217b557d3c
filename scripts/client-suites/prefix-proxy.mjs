// Serves GoTrue's root paths on one port by forwarding to `/auth/v1` on another: the auth-js
// docker stacks run GoTrue alone (no gateway), at http://localhost:<port>/signup and so on.
//   node prefix-proxy.mjs <listen port> <target port>
import http from 'node:http'

const [listen, target] = process.argv.slice(2).map(Number)
const server = http.createServer((req, res) => {
  const upstream = http.request(
    { host: '127.0.0.1', port: target, method: req.method, path: `/auth/v1${req.url}`, headers: { ...req.headers, host: `127.0.0.1:${target}` } },
    (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(res)
    },
  )
  upstream.on('error', (error) => {
    res.writeHead(502, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ code: 502, msg: `proxy: ${error.message}` }))
  })
  req.pipe(upstream)
})
server.listen(listen, '127.0.0.1')
process.on('SIGTERM', () => server.close(() => process.exit(0)))
