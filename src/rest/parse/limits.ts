/**
 * Bounds on the shape of one request, checked while parsing: a few KB of URL must not cost seconds
 * of planning (dozens of nested embeds become dozens of lateral subqueries) nor a stack overflow
 * (a logic tree thousands of levels deep). Real clients stay far below these; a request past them
 * is refused with PGRST100 before any database connection is taken.
 * @module
 */
import { parseError } from '../errors.ts'

/** Embeds inside embeds: `a(b(c(…)))`. */
export const MAX_EMBED_DEPTH = 8
/** Embeds in one `select`, at every level together. */
export const MAX_EMBEDS = 40
/** `and(or(and(…)))` nesting in one logic-tree parameter. */
export const MAX_LOGIC_DEPTH = 16

export function tooDeep(what: string, limit: number): never {
  throw parseError(`The ${what} is nested too deeply`, `At most ${limit} levels are allowed`)
}

export function tooMany(what: string, limit: number): never {
  throw parseError(`The request has too many ${what}`, `At most ${limit} are allowed`)
}
