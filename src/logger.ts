/**
 * JSON logs (pino). Secrets never reach them: the redaction list covers every header and field
 * that can carry a token, a password or a secret value.
 * @module
 */
import pino from 'pino'
import type { LogLevel } from './config/config.ts'

export type Logger = pino.Logger

export const REDACTED_PATHS = [
  'password',
  'secret',
  'token',
  'access_token',
  'refresh_token',
  '*.password',
  '*.secret',
  '*.token',
  '*.access_token',
  '*.refresh_token',
  'req.headers.authorization',
  'req.headers.apikey',
  'req.headers.cookie',
  'headers.authorization',
  'headers.apikey',
  'headers.cookie',
  'params',
  '*.params',
]

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
    },
    destination,
  )
}
