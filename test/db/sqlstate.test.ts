import { describe, expect, it } from 'vitest'
import { hasSqlState, httpStatusForSqlState, isUnavailableSqlState, sqlStateOf } from '../../src/db/sqlstate.ts'

describe('SQLSTATE → HTTP status', () => {
  it('follows PostgREST for the common conditions', () => {
    expect(httpStatusForSqlState('23505', 'duplicate key value violates unique constraint "x"', true)).toBe(409)
    expect(httpStatusForSqlState('23503', 'insert or update violates foreign key constraint', true)).toBe(409)
    expect(httpStatusForSqlState('42501', 'new row violates row-level security policy', true)).toBe(403)
    expect(httpStatusForSqlState('42501', 'permission denied for table t', false)).toBe(401)
    expect(httpStatusForSqlState('25006', 'cannot execute INSERT in a read-only transaction', true)).toBe(405)
    expect(httpStatusForSqlState('23502', 'null value in column "x"', true)).toBe(400)
    expect(httpStatusForSqlState('PT418', 'teapot', true)).toBe(418)
  })

  it('answers a write to a non-updatable view with 405, not 500', () => {
    expect(httpStatusForSqlState('55000', 'cannot insert into view "totals"', true)).toBe(405)
    expect(httpStatusForSqlState('55000', 'cannot delete from view "totals"', true)).toBe(405)
    expect(httpStatusForSqlState('55000', 'some other prerequisite state', true)).toBe(500)
  })
})

describe('reading SQLSTATEs from errors', () => {
  it('takes only five-character SQLSTATEs, never socket codes or non-errors', () => {
    expect(sqlStateOf({ code: '42P01' })).toBe('42P01')
    expect(sqlStateOf({ code: 'ECONNREFUSED' })).toBeUndefined()
    expect(sqlStateOf({ code: 42 })).toBeUndefined()
    expect(sqlStateOf(undefined)).toBeUndefined()
    expect(sqlStateOf(null)).toBeUndefined()
  })

  it('matches by condition name', () => {
    expect(hasSqlState({ code: '23505' }, 'unique_violation')).toBe(true)
    expect(hasSqlState({ code: '40P01' }, 'lock_not_available', 'serialization_failure', 'deadlock_detected')).toBe(true)
    expect(hasSqlState({ code: '23503' }, 'unique_violation')).toBe(false)
    expect(hasSqlState(new Error('no code'), 'undefined_table')).toBe(false)
  })

  it('knows which SQLSTATEs mean the server is unavailable', () => {
    for (const code of ['57P01', '57P02', '57P03', '53300', '08006']) expect(isUnavailableSqlState(code)).toBe(true)
    for (const code of ['57014', '23505', '42P01']) expect(isUnavailableSqlState(code)).toBe(false)
  })
})
