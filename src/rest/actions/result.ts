/**
 * What every REST action (read, mutation, call, explain, the OpenAPI document) answers: its own
 * module so the actions share it without importing each other.
 * @module
 */
export interface RestResult {
  status: number
  headers: Record<string, string>
  /** Undefined → no body. */
  body?: string
  /** Rows the statement produced (for max-affected checks). */
  rows?: number
}
