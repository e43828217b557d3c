/**
 * The set-up most scenarios share: a throwaway PostgreSQL, the fixture database on it, and the real
 * `serve` process over it (optionally through a TCP proxy that can cut the network). Call inside a
 * `describe`: it registers the start-up and the tear-down, and returns a getter for the parts.
 * @module
 */
import { afterAll, beforeAll } from 'vitest'
import { prepareDatabase, serveEnv, type FixtureDatabase } from './fixture.ts'
import { startPgInstance, type PgInstance } from './pg-instance.ts'
import { spawnServe, type ServeProcess } from './serve-process.ts'
import { startTcpProxy, type TcpProxy } from '../../support/tcp-proxy.ts'

export interface Scenario {
  instance: PgInstance
  fixture: FixtureDatabase
  server: ServeProcess
  /** Set with `throughProxy`: the service reaches the database through it. */
  proxy: TcpProxy | undefined
}

export interface ScenarioOptions {
  /** Environment of `serve` on top of `serveEnv`'s. */
  env?: Record<string, string>
  nodeArgs?: string[]
  throughProxy?: boolean
}

export function useServedPostgres(options: ScenarioOptions = {}): () => Scenario {
  let instance: PgInstance | undefined
  let fixture: FixtureDatabase | undefined
  let proxy: TcpProxy | undefined
  let server: ServeProcess | undefined

  beforeAll(async () => {
    instance = await startPgInstance()
    fixture = await prepareDatabase(instance.url)
    if (options.throughProxy) proxy = await startTcpProxy(instance.port)
    const url = proxy ? proxy.url(fixture.url) : fixture.url
    server = await spawnServe(serveEnv(url, options.env), { nodeArgs: options.nodeArgs })
  })

  afterAll(async () => {
    await server?.kill()
    await proxy?.close()
    await instance?.destroy()
  })

  return () => {
    if (!instance || !fixture || !server) throw new Error('the scenario did not start')
    return { instance, fixture, server, proxy }
  }
}

/** Signs up one user per worker `0 … count-1`, all at once (bcrypt-heavy: before the measured part). */
export async function signUpWorkers(traffic: { step(worker: number, action: 'signUp'): Promise<unknown> }, count: number): Promise<void> {
  await Promise.all(Array.from({ length: count }, (_, w) => traffic.step(w, 'signUp')))
}
