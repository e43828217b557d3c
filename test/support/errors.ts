/** What a synchronous call threw as an HttpError: its status and JSON body (anything else is rethrown). */
import { HttpError } from '../../src/errors.ts'

export function errorOf(fn: () => unknown): { status: number; body: Record<string, unknown> } {
  try {
    fn()
  } catch (error) {
    if (error instanceof HttpError) return { status: error.status, body: error.body }
    throw error
  }
  throw new Error('expected an error')
}
