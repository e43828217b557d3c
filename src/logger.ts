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

// A JWT (three base64url parts, the first an encoded JSON header), or the value of a token-bearing
// query/fragment parameter. Error messages can quote a URL or header value holding one of them.
const SECRET_IN_TEXT = /eyJ[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*\.[A-Za-z0-9_-]*|\b((?:access_|refresh_|provider_)?token(?:_hash)?|code|apikey)=[^&#\s"']+/g

/** `text` with JWTs and `token=…`-style values replaced by `[redacted]`. */
export function scrubSecrets(text: string): string {
  return text.replace(SECRET_IN_TEXT, (match, name: string | undefined) => (name ? `${name}=[redacted]` : '[redacted]'))
}

/** pino's error serializer, with secrets scrubbed from the message and stack (also of causes). */
function errorSerializer(error: unknown): unknown {
  if (typeof error === 'string') return scrubSecrets(error)
  const out = pino.stdSerializers.err(error as Error) as unknown as Record<string, unknown>
  if (!out || typeof out !== 'object') return out
  const scrubbed: Record<string, unknown> = {}
  for (const [key, value] of Object.entries(out)) scrubbed[key] = typeof value === 'string' ? scrubSecrets(value) : value
  return scrubbed
}

export function createLogger(level: LogLevel, destination?: pino.DestinationStream): Logger {
  return pino(
    {
      level,
      base: undefined,
      redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: errorSerializer, error: errorSerializer, cause: errorSerializer },
      hooks: {
        // The message string too: a handler may log `error.message` directly.
        logMethod(args, method) {
          method.apply(this, args.map((arg) => (typeof arg === 'string' ? scrubSecrets(arg) : arg)) as Parameters<typeof method>)
        },
      },
    },
    destination,
  )
}
