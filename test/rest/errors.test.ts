import { describe, expect, it } from 'vitest'
import { statusForSqlState } from '../../src/rest/errors.ts'

describe('SQLSTATE → HTTP status', () => {
  it('follows PostgREST for the common conditions', () => {
    expect(statusForSqlState('23505', 'duplicate key value violates unique constraint "x"', true)).toBe(409)
    expect(statusForSqlState('23503', 'insert or update violates foreign key constraint', true)).toBe(409)
    expect(statusForSqlState('42501', 'new row violates row-level security policy', true)).toBe(403)
    expect(statusForSqlState('42501', 'permission denied for table t', false)).toBe(401)
    expect(statusForSqlState('25006', 'cannot execute INSERT in a read-only transaction', true)).toBe(405)
    expect(statusForSqlState('23502', 'null value in column "x"', true)).toBe(400)
    expect(statusForSqlState('PT418', 'teapot', true)).toBe(418)
  })

  it('answers a write to a non-updatable view with 405, not 500', () => {
    expect(statusForSqlState('55000', 'cannot insert into view "totals"', true)).toBe(405)
    expect(statusForSqlState('55000', 'cannot delete from view "totals"', true)).toBe(405)
    expect(statusForSqlState('55000', 'some other prerequisite state', true)).toBe(500)
  })
})
