/**
 * The embedded database is PGlite's PostgreSQL; production is whatever `DATABASE_URL` runs. A
 * migration that works on one major version may fail on the other (PG17's MAINTAIN privilege,
 * PG18's virtual generated columns …), so `db status` says when they differ.
 * @module
 */

/** PostgreSQL major of the bundled PGlite (@electric-sql/pglite 0.5.x: PostgreSQL 18). A test checks it. */
export const EMBEDDED_MAJOR = 18

/** The warning for a server whose `server_version_num` has another major than the embedded engine; undefined when they match. */
export function engineMismatch(serverVersionNum: number): string | undefined {
  const major = Math.floor(serverVersionNum / 10000)
  if (major === EMBEDDED_MAJOR) return undefined
  return `this server runs PostgreSQL ${major}, the embedded database (npm start without DATABASE_URL) runs ${EMBEDDED_MAJOR}: a migration that passes locally may fail here; test it against PostgreSQL ${major} too`
}
