/**
 * What every storage command runs in: the database (bootstrapped when embedded), the services
 * over it and the configured byte backend. Storage's refusals become one-line fatal errors.
 * @module
 */
import type { Config } from '../../config/config.ts'
import type { Database } from '../../db/types.ts'
import { FatalError, HttpError } from '../../errors.ts'
import { bootstrap } from '../../schema/bootstrap.ts'
import { createServices, type Services } from '../../services.ts'
import { createBackend } from '../../storage/backend/index.ts'
import type { StorageBackend } from '../../storage/backend/types.ts'
import { withDatabase, type DatabaseOption } from '../context.ts'

/** The database (bootstrapped when embedded), services over it and the configured backend. */
export async function withStorage<T>(options: DatabaseOption, fn: (services: Services, backend: StorageBackend, database: Database, config: Config) => Promise<T>): Promise<T> {
  try {
    return await withDatabase(options, async (database, config) => {
      if (database.capabilities.inProcess) await bootstrap(database)
      const services = await createServices(config, { database })
      try {
        return await fn(services, createBackend(config.storage), database, config)
      } finally {
        await services.close()
      }
    })
  } catch (error) {
    // Storage's refusals (no such bucket, bad name …) are one line, not a stack.
    if (error instanceof HttpError) throw new FatalError(`${error.code}: ${error.message}`)
    throw error
  }
}

