/**
 * `page` / `per_page` query parameters of the admin lists (users, audit, OAuth clients), checked
 * as GoTrue checks them.
 * @module
 */
import { validationFailed } from '../errors.ts'

export function pageParam(raw: string | undefined, name: string, fallback: number, max: number): number {
  if (raw === undefined || raw === '') return fallback
  if (!/^\d+$/.test(raw)) throw validationFailed(`Bad Pagination Parameters: ${name} must be a positive integer`)
  const value = Number(raw)
  if (value < 1 || value > max) throw validationFailed(`Bad Pagination Parameters: ${name} must be between 1 and ${max}`)
  return value
}
