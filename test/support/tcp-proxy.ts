/**
 * A TCP proxy in front of PostgreSQL that can fail the network the way a real one does, which a
 * stopped server cannot show: `blackhole()` keeps every socket open but forwards nothing (a
 * partition, a security group change, a NAT dropping state: no FIN, no RST); `refuse()` cuts every
 * connection and every new one at once (a database down and restarting); `heal()` resumes.
 * @module
 */
import net from 'node:net'

export interface TcpProxy {
  port: number
  url(databaseUrl: string): string
  blackhole(): void
  refuse(): void
  heal(): void
  /** Open client connections. */
  connections(): number
  close(): Promise<void>
}

export async function startTcpProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<TcpProxy> {
  let holes = false
  let refusing = false
  const pairs = new Set<{ client: net.Socket; upstream: net.Socket }>()

  const server = net.createServer((client) => {
    if (refusing) return void client.destroy()
    const upstream = net.connect(targetPort, targetHost)
    const pair = { client, upstream }
    pairs.add(pair)
    const forward = (from: net.Socket, to: net.Socket) =>
      from.on('data', (chunk) => {
        // In a partition the bytes are simply lost.
        if (!holes) to.write(chunk)
      })
    forward(client, upstream)
    forward(upstream, client)
    const end = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', end).on('close', end)
    upstream.on('error', end).on('close', end)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const port = (server.address() as net.AddressInfo).port

  return {
    port,
    url(databaseUrl) {
      const url = new URL(databaseUrl)
      url.host = `127.0.0.1:${port}`
      return url.toString()
    },
    blackhole() {
      holes = true
    },
    refuse() {
      refusing = true
      for (const { client, upstream } of pairs) {
        client.destroy()
        upstream.destroy()
      }
    },
    heal() {
      holes = false
      refusing = false
    },
    connections: () => pairs.size,
    async close() {
      for (const { client, upstream } of pairs) {
        client.destroy()
        upstream.destroy()
      }
      await new Promise((resolve) => server.close(resolve))
    },
  }
}
