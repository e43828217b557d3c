/**
 * A TCP proxy that holds every chunk `delayMs` in each direction: the database as a user on AWS
 * sees it (another host in the same zone, ≈ 0.5 ms each way), on one machine. Node's timers
 * round to whole milliseconds, so chunks wait in a queue polled with setImmediate while any is
 * pending (the proxy runs in its own process so the polling does not slow the load generator).
 *
 *   node --import tsx bench/lib/latency-proxy.ts <target-host> <target-port> <delay-ms>   # prints PORT <n>
 */
import net from 'node:net'
import { fileURLToPath } from 'node:url'
import { startPortChild, type PortChild } from './port-child.ts'

interface Held {
  due: number
  socket: net.Socket
  chunk: Buffer
}

export function serveLatencyProxy(targetHost: string, targetPort: number, delayMs: number): Promise<number> {
  const queue: Held[] = []
  let pumping = false
  const pump = () => {
    const now = performance.now()
    while (queue.length && queue[0]!.due <= now) {
      const held = queue.shift()!
      if (!held.socket.destroyed) held.socket.write(held.chunk)
    }
    if (queue.length) setImmediate(pump)
    else pumping = false
  }
  // Delays are equal, so arrival order is due order: a FIFO queue keeps each stream in order.
  const hold = (socket: net.Socket, chunk: Buffer) => {
    queue.push({ due: performance.now() + delayMs, socket, chunk })
    if (!pumping) {
      pumping = true
      setImmediate(pump)
    }
  }
  const server = net.createServer((client) => {
    client.setNoDelay(true)
    const upstream = net.connect(targetPort, targetHost)
    upstream.setNoDelay(true)
    client.on('data', (chunk) => hold(upstream, chunk))
    upstream.on('data', (chunk) => hold(client, chunk))
    const close = () => {
      client.destroy()
      upstream.destroy()
    }
    client.on('close', close)
    upstream.on('close', close)
    client.on('error', close)
    upstream.on('error', close)
  })
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as net.AddressInfo).port)))
}

/** Starts the proxy in a child process; resolves with its port and a stop function. */
export function startLatencyProxy(targetHost: string, targetPort: number, delayMs: number): Promise<PortChild> {
  return startPortChild('latency proxy', fileURLToPath(import.meta.url), [targetHost, String(targetPort), String(delayMs)])
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [host, port, delay] = process.argv.slice(2)
  process.on('SIGTERM', () => process.exit(0))
  const listening = await serveLatencyProxy(host!, Number(port), Number(delay))
  process.stdout.write(`PORT ${listening}\n`)
}
