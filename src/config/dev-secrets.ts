/**
 * Development secrets: generated once into the data dir and reused, so a restart keeps the same
 * keys. Never used in production, where missing secrets stop start-up (requirements.ts).
 * @module
 */
import { randomBytes } from 'node:crypto'
import fs from 'node:fs/promises'
import path from 'node:path'
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
 * a runtime without a persistent disk (where requirements.ts demands them). API keys are derived
 * from the (possibly generated) signing key and stored beside it.
 */
export async function resolveDevSecrets(config: Config, profile: Pick<RuntimeProfile, 'persistentDisk'> = SERVER_PROFILE): Promise<Config> {
  if (config.production || !profile.persistentDisk) return config
  const needsFile = (!config.jwtSecret && !config.jwtKeys) || !config.vaultRootKey || !config.anonKey || !config.serviceRoleKey
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
  if (usesFileSecret && (!secrets.anonKey || !secrets.serviceRoleKey)) {
    const file = path.join(config.dataDir, DEV_SECRETS_FILE)
    await fs.writeFile(file, JSON.stringify({ ...secrets, anonKey: resolved.anonKey, serviceRoleKey: resolved.serviceRoleKey }, null, 2) + '\n', { mode: 0o600 })
  }
  return resolved
}
