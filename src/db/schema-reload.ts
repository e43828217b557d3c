/**
 * What tells every running API instance that the schema changed: PostgREST's own channel, so
 * a PostgREST beside us reloads too. Sent inside the changing transaction, it is delivered only
 * if that transaction commits.
 */
export const NOTIFY_SCHEMA_RELOAD = "NOTIFY pgrst, 'reload schema'"
