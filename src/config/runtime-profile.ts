/**
 * What a runtime allows, declared once and passed to `createServices`, so the code below asks
 * "may I hold a connection open?" instead of "am I on Lambda?". A new runtime declares its own.
 * @module
 */

export interface RuntimeProfile {
  readonly name: 'server' | 'lambda'
  /** How start-up errors name it: "required on Lambda". */
  readonly label: string
  /**
   * A disk that outlives the process: the embedded database and generated development secrets
   * are possible. Without one, DATABASE_URL and every secret must be given, whatever NODE_ENV says.
   */
  readonly persistentDisk: boolean
  /** Connections may stay open between requests (LISTEN): not where the instance freezes between invocations. */
  readonly longLivedConnections: boolean
  /** Worker threads (bcrypt) are worth their memory. */
  readonly workerThreads: boolean
  /** Connections in a server database's pool; undefined → `DB_POOL_MAX`. */
  readonly poolSize: number | undefined
  /** Idle pool connections are closed after this many ms; 0 keeps them (Lambda reuses its one across invocations). */
  readonly idleTimeoutMs: number
}

/** A long-running process: container, EC2, `npm start`, the CLI. */
export const SERVER_PROFILE: RuntimeProfile = {
  name: 'server',
  label: 'a server',
  persistentDisk: true,
  longLivedConnections: true,
  workerThreads: true,
  poolSize: undefined,
  idleTimeoutMs: 30_000,
}

/** A Lambda instance: one request at a time, frozen between invocations, one connection kept. */
export const LAMBDA_PROFILE: RuntimeProfile = {
  name: 'lambda',
  label: 'Lambda',
  persistentDisk: false,
  longLivedConnections: false,
  workerThreads: false,
  poolSize: 1,
  idleTimeoutMs: 0,
}
