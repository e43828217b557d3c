/**
 * Guesses at an emailed code. A 6-digit code falls to a million requests, so each code (user,
 * token column, the stored token itself) gets `AUTH_OTP_MAX_ATTEMPTS` guesses, counted in the
 * database (`_resolution.auth_rate_limits`, so every process counts together) BEFORE the code is
 * compared: a burst cannot outrun the count. The guess that uses up the last attempt voids the
 * code; only a new mail (a new token, hence a new count) helps then.
 * @module
 */
import { createHash } from 'node:crypto'
import { ident } from '../db/sql.ts'
import type { AuthDeps } from './context.ts'
import { NIL_INSTANCE, type TokenColumn } from './models/user.ts'

const BUCKET = 'otp_guess'

/** One counted guess at one live code. */
export interface Guess {
  userId: string
  column: TokenColumn
  /** The stored token the guess was counted against. */
  stored: string
  hits: number
}

/** Where to look for the codes a guess is aimed at: the owner's address column, or the user id. */
export interface GuessTarget {
  column: TokenColumn
  /** `email` (or `email_change` for the new address of an email change), or `id`. */
  owner: 'email' | 'email_change' | 'id'
}

const tag = (stored: string) => createHash('sha256').update(stored).digest('hex').slice(0, 24)

/** Counts one guess at every live code in `targets` owned by `who` (an address, or a user id). */
export async function countGuesses(deps: AuthDeps, who: string, targets: GuessTarget[]): Promise<Guess[]> {
  const database = await deps.services.database()
  const guesses: Guess[] = []
  for (const target of targets) {
    // Column names come from the callers' closed tables, never from a request.
    const owner = target.owner === 'id' ? 'id::text = $2' : `lower(${ident(target.owner)}) = $2`
    const { rows } = await database.query<{ id: string; stored: string }>(
      `SELECT id::text AS id, ${ident(target.column)} AS stored FROM auth.users
        WHERE instance_id = $1 AND ${owner} AND coalesce(${ident(target.column)}, '') <> '' LIMIT 5`,
      [NIL_INSTANCE, who],
    )
    for (const row of rows) {
      const hit = await deps.limits.counters.hit(BUCKET, `${row.id}:${target.column}:${tag(row.stored)}`, deps.config.otpExp)
      guesses.push({ userId: row.id, column: target.column, stored: row.stored, hits: hit.hits })
    }
  }
  return guesses
}

/** Guesses past the last allowed one: their codes must not even be compared. */
export function overLimit(deps: AuthDeps, guesses: Guess[]): Guess[] {
  return guesses.filter((g) => g.hits > deps.config.otpMaxAttempts)
}

/** After a wrong guess: voids the codes whose last attempt it used (or that were over already). */
export async function voidSpentCodes(deps: AuthDeps, guesses: Guess[]): Promise<void> {
  const spent = guesses.filter((g) => g.hits >= deps.config.otpMaxAttempts)
  if (spent.length === 0) return
  const database = await deps.services.database()
  for (const guess of spent) {
    // Only the code counted against: a newer mail's code stays valid.
    await database.query(`UPDATE auth.users SET ${ident(guess.column)} = '' WHERE id = $1 AND ${ident(guess.column)} = $2`, [guess.userId, guess.stored])
    await database.query('DELETE FROM auth.one_time_tokens WHERE user_id = $1 AND token_type = $2::auth.one_time_token_type AND token_hash = $3', [
      guess.userId,
      guess.column,
      guess.stored,
    ])
    deps.services.logger.warn({ userId: guess.userId, token: guess.column }, 'auth: a code was guessed wrong too often and is now void')
  }
}
