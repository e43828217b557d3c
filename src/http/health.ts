/** `GET /health`: 200 when the database answers, 503 with a code when it does not (ALB target health). */
import { Hono } from 'hono'
import { appError } from '../errors.ts'
import type { Services } from '../services.ts'
import type { StartupGate } from './startup.ts'

/** `startup`: while it is not open, 503 `starting` (no gate: ready from the start, as on Lambda). */
export function healthRouter(services: Services, startup?: StartupGate): Hono {
  const router = new Hono()
  router.get('/', async (c) => {
    try {
      const database = await services.database()
      await database.ping(2000)
    } catch (error) {
      throw appError('database_unavailable', 'The database is not reachable', { headers: { 'Retry-After': '1' }, cause: error })
    }
    // After the ping, so an unreachable database is reported as such while starting too.
    if (startup && !startup.ready) throw appError('starting', 'The service is starting: the database bootstrap has not finished', { headers: { 'Retry-After': '1' } })
    return c.json({ status: 'ok', database: 'ok' })
  })
  return router
}
