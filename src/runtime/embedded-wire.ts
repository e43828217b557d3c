/**
 * `serve` on the embedded database also offers it over the PostgreSQL wire protocol (psql,
 * GUI clients, the CLI while the service runs), on the SAME PGlite instance the API uses.
 * Never for a server database and never in production (config leaves the port unset there).
 * A busy port is a warning, not a failed start: the API is what `npm start` is for.
 * @module
 */
import type { PgliteDatabase } from '../db/pglite-driver.ts'
import { writeWireInfo } from '../db/wire-info.ts'
import { reloadSchemaCache } from '../rest/schema-cache/index.ts'
import type { Services } from '../services.ts'

export interface EmbeddedWire {
  port: number
  close(): Promise<void>
}

export async function startEmbeddedWire(services: Services): Promise<EmbeddedWire | undefined> {
  const { config, logger } = services
  if (config.databaseUrl || config.embeddedDbPort === undefined) return undefined
  const database = await services.database()
  if (!database.capabilities.inProcess) return undefined
  // Loaded only here, like the PGlite driver itself, so server-database bundles carry none of it.
  const [{ startWireServer }, { dumpHeldEngine }] = await Promise.all([import('../db/wire-server.ts'), import('../dbtools/dump.ts')])
  let wire
  try {
    wire = await startWireServer({ database: database as PgliteDatabase, port: config.embeddedDbPort, logger, onNotification: reloadOnPgrst, dump: dumpHeldEngine })
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code !== 'EADDRINUSE' && code !== 'EACCES') throw error
    logger.warn(
      { port: config.embeddedDbPort, code },
      `EMBEDDED_DB_PORT: port ${config.embeddedDbPort} is ${code === 'EADDRINUSE' ? 'in use' : 'not allowed'}; the embedded database is not reachable over the wire (set EMBEDDED_DB_PORT to another port)`,
    )
    return undefined
  }
  // `NOTIFY pgrst, 'reload schema'` from psql or a migration reloads the REST schema cache, as
  // with PostgREST on a server: the engine's one session listens, and the wire server passes on
  // what a socket client's statement delivered (the API's own NOTIFYs come back through listen).
  function reloadOnPgrst(channel: string, payload: string) {
    if (channel !== 'pgrst' || (payload.trim() !== '' && payload.trim() !== 'reload schema')) return
    reloadSchemaCache(database).catch((error) => logger.warn({ err: error }, 'schema cache reload failed'))
  }
  await (database as PgliteDatabase).withPglite((pg) => pg.listen('pgrst', (payload) => reloadOnPgrst('pgrst', payload)))
  const forget = writeWireInfo(config.dataDir, { pid: process.pid, host: wire.host, port: wire.port })
  logger.info({ port: wire.port }, `embedded database on postgres://postgres@${wire.host}:${wire.port}/postgres`)
  return {
    port: wire.port,
    async close() {
      forget()
      await wire.close()
    },
  }
}
