/**
 * Development secrets: generated once into the data dir and reused, so a restart keeps the same
 * keys. Never used in production, where missing secrets stop start-up (requirements.ts).
 * @module
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
import { generateOpaqueKey } from '../jwt/opaque-keys.ts'
import { createJwtService, issueApiKey } from '../jwt/service.ts'
import type { Config } from './config.ts'
import { fail } from './env.ts'
import { SERVER_PROFILE, type RuntimeProfile } from './runtime-profile.ts'
import { ensureDataDir } from './data-dir.ts'

interface DevSecrets {
  jwtSecret: string
  vaultRootKey: string
  anonKey?: string
  serviceRoleKey?: string
  /** The new-format keys; unlike the JWT keys they do not depend on the signing secret. */
  publishableKey?: string
  secretKey?: string
}

export const DEV_SECRETS_FILE = 'dev-secrets.json'

async function readOrCreate(dataDir: string): Promise<{ secrets: DevSecrets; created: boolean }> {
  const file = path.join(dataDir, DEV_SECRETS_FILE)
  ensureDataDir(dataDir)
  try {
    return { secrets: JSON.parse(await fs.readFile(file, 'utf8')) as DevSecrets, created: false }
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'ENOENT') {
      fail('RESOLUTION_DATA_DIR', `cannot read ${file}: ${(error as Error).message}`)
    }
  }
  const secrets: DevSecrets = { jwtSecret: randomBytes(32).toString('base64url'), vaultRootKey: randomBytes(32).toString('hex') }
  try {
    await fs.writeFile(file, JSON.stringify(secrets, null, 2) + '\n', { mode: 0o600, flag: 'wx' })
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'EEXIST') return readOrCreate(dataDir)
    fail('RESOLUTION_DATA_DIR', `${dataDir} is not writable (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`)
  }
  return { secrets, created: true }
}

/**
 * Fills the secrets development may generate. Returns the config unchanged in production and on
 * a runtime without a persistent disk (where requirements.ts demands them). JWT API keys are
 * derived from the (possibly generated) signing key and stored beside it, with a publishable and
 * a secret key of the new format.
 */
export async function resolveDevSecrets(config: Config, profile: Pick<RuntimeProfile, 'persistentDisk'> = SERVER_PROFILE): Promise<Config> {
  if (config.production || !profile.persistentDisk) return config
  const needsOpaque = config.publishableKeys.length === 0 || config.secretKeys.length === 0
  const needsFile = (!config.jwtSecret && !config.jwtKeys) || !config.vaultRootKey || !config.anonKey || !config.serviceRoleKey || needsOpaque
  if (!needsFile) return config
  const { secrets } = await readOrCreate(config.dataDir)
  const resolved: Config = {
    ...config,
    jwtSecret: config.jwtSecret ?? (config.jwtKeys ? undefined : secrets.jwtSecret),
    vaultRootKey: config.vaultRootKey ?? secrets.vaultRootKey,
  }
  // Keys stored in the file are only valid for the secret they were made with.
  const usesFileSecret = resolved.jwtSecret === secrets.jwtSecret && !config.jwtKeys
  const jwt = await createJwtService(resolved)
  resolved.anonKey ??= usesFileSecret && secrets.anonKey ? secrets.anonKey : await issueApiKey(jwt, 'anon')
  resolved.serviceRoleKey ??= usesFileSecret && secrets.serviceRoleKey ? secrets.serviceRoleKey : await issueApiKey(jwt, 'service_role')
  const stored = {
    ...secrets,
    ...(usesFileSecret ? { anonKey: secrets.anonKey ?? resolved.anonKey, serviceRoleKey: secrets.serviceRoleKey ?? resolved.serviceRoleKey } : {}),
    publishableKey: secrets.publishableKey ?? generateOpaqueKey('publishable'),
    secretKey: secrets.secretKey ?? generateOpaqueKey('secret'),
  }
  if (resolved.publishableKeys.length === 0) resolved.publishableKeys = [stored.publishableKey]
  if (resolved.secretKeys.length === 0) resolved.secretKeys = [stored.secretKey]
  if (JSON.stringify(stored) !== JSON.stringify(secrets)) {
    const file = path.join(config.dataDir, DEV_SECRETS_FILE)
    await fs.writeFile(file, JSON.stringify(stored, null, 2) + '\n', { mode: 0o600 })
  }
  return resolved
}
