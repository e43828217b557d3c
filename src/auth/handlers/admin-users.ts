/**
 * Admin user management (service_role only): list with `X-Total-Count`/`Link`, create, get,
 * update (bans, passwords, confirmation), soft and hard delete, and the audit log.
 * @module
 */
import type { Queryable } from '../../db/types.ts'
import type { AuthContext, AuthDeps } from '../context.ts'
import { newId, randomPassword, UUID_PATTERN } from '../crypto.ts'
import { authError, notFound, unprocessable, validationFailed } from '../errors.ts'
import { writeAudit } from '../models/audit.ts'
import { listFactors } from '../models/factor.ts'
import { insertIdentity, listIdentities, mergeIdentityData } from '../models/identity.ts'
import { listAuditEntries, listUsersPage, setBan, softDeleteUser } from '../models/admin-users.ts'
import { deleteSessions } from '../models/session.ts'
import { deleteUser, findUserByEmail, findUserById, findUserByPhone, insertUser, NOW, updateUser, type UserPatch, type UserRow } from '../models/user.ts'
import { assertStrongPassword, checkPasswordLength, hashPassword, isSupportedHash } from '../password.ts'
import { bool, clientIp, obj, readBody, str, type Body } from '../request.ts'
import { DEFAULT_AUD, DEFAULT_ROLE } from '../tokens.ts'
import { userJson } from '../user-json.ts'
import { validateEmail, validatePhone } from '../validate.ts'
import { parseBanDuration } from '../ban-duration.ts'
import { isNamedApiRole } from '../../http/api-roles.ts'
import { mergeMetadata } from './user.ts'
import { pageParam } from './paging.ts'

export async function listUsers(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const page = pageParam(c.req.query('page'), 'page', 1, 1_000_000)
  const perPage = pageParam(c.req.query('per_page'), 'per_page', 50, 1000)
  const filter = c.req.query('filter') ?? ''
  const sort = (c.req.query('sort') ?? 'created_at desc').trim().toLowerCase()
  const direction = sort === 'created_at asc' || sort === 'created_at' ? 'ASC' : sort === 'created_at desc' ? 'DESC' : undefined
  if (!direction) throw validationFailed(`Bad Sort Parameters: ${sort}`)
  const aud = c.req.header('x-jwt-aud') || DEFAULT_AUD

  const { users, total } = await deps.transaction(async (tx) => {
    const found = await listUsersPage(tx, { filter, direction, limit: perPage, offset: (page - 1) * perPage })
    const ids = found.users.map((u) => u.id)
    const [identities, factors] = [await listIdentities(tx, ids), await listFactors(tx, ids)]
    return { users: found.users.map((u) => userJson(u, identities, factors)), total: found.total }
  })
  const last = Math.max(1, Math.ceil(total / perPage))
  const links: string[] = []
  if (page < last) links.push(`</admin/users?page=${page + 1}&per_page=${perPage}>; rel="next"`)
  links.push(`</admin/users?page=${last}&per_page=${perPage}>; rel="last"`)
  c.header('X-Total-Count', String(total))
  c.header('Link', links.join(', '))
  return c.json({ users, aud })
}

function userIdParam(c: AuthContext): string {
  const id = c.req.param('id') ?? ''
  if (!UUID_PATTERN.test(id)) throw authError(404, 'validation_failed', 'user_id must be an UUID')
  return id.toLowerCase()
}

async function loadOr404(tx: Queryable, id: string, forUpdate = false): Promise<UserRow> {
  const user = await findUserById(tx, id, { forUpdate })
  if (!user) throw notFound('user_not_found', 'User not found')
  return user
}

async function json(tx: Queryable, user: UserRow) {
  return userJson(user, await listIdentities(tx, [user.id]), await listFactors(tx, [user.id]))
}

/** The encrypted password from `password` or `password_hash` (bcrypt only), or undefined. */
/** A `role` the admin may give a user: one a token may carry (./http/api-roles.ts). */
function assignableRole(role: string, deps: AuthDeps): string {
  if (!isNamedApiRole(role, deps.services.config.rest.extraRoles)) {
    throw validationFailed(`Role ${JSON.stringify(role)} cannot be assigned: use authenticated, anon, service_role or a role listed in DB_EXTRA_ROLES`)
  }
  return role
}

async function passwordFrom(body: Body, strong: boolean, deps: AuthDeps): Promise<string | undefined> {
  const password = str(body, 'password')
  const hash = str(body, 'password_hash')
  if (password !== undefined && hash !== undefined) throw validationFailed('Only a password or a password hash should be provided')
  if (hash !== undefined) {
    if (!isSupportedHash(hash)) throw validationFailed('Invalid password hash format: only bcrypt ($2a$/$2b$/$2y$) hashes are supported')
    return hash
  }
  if (password === undefined) return undefined
  if (strong) assertStrongPassword(password, deps.config)
  else checkPasswordLength(password)
  return hashPassword(password)
}

export async function createUser(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const body = await readBody(c)
  const rawEmail = str(body, 'email')
  const rawPhone = str(body, 'phone')
  if (!rawEmail && !rawPhone) throw validationFailed('Cannot create a user without either an email or phone')
  const email = rawEmail ? validateEmail(rawEmail) : null
  const phone = rawPhone ? validatePhone(rawPhone) : null
  const id = str(body, 'id') ?? newId()
  if (!UUID_PATTERN.test(id)) throw validationFailed('ID must conform to the uuid format')
  const emailConfirm = bool(body, 'email_confirm') ?? false
  const phoneConfirm = bool(body, 'phone_confirm') ?? false
  const userMetadata = obj(body, 'user_metadata') ?? {}
  const appMetadata = obj(body, 'app_metadata') ?? {}
  const role = assignableRole(str(body, 'role') || DEFAULT_ROLE, deps)
  const banDuration = str(body, 'ban_duration')
  const bannedSeconds = banDuration ? parseBanDuration(banDuration) : undefined
  const encrypted = (await passwordFrom(body, false, deps)) ?? (await hashPassword(randomPassword()))
  const ip = clientIp(c)
  const providers = [...(email ? ['email'] : []), ...(phone ? ['phone'] : [])]

  const created = await deps.transaction(async (tx) => {
    if (email && (await findUserByEmail(tx, email))) throw unprocessable('email_exists', 'A user with this email address has already been registered')
    if (phone && (await findUserByPhone(tx, phone))) throw unprocessable('phone_exists', 'Phone number already registered by another user')
    const identityData = { sub: id, email: email ?? undefined, phone: phone ?? undefined, email_verified: email ? emailConfirm : false, phone_verified: phone ? phoneConfirm : false }
    let user = await insertUser(tx, {
      id: id.toLowerCase(),
      aud: c.req.header('x-jwt-aud') || DEFAULT_AUD,
      role,
      email,
      phone,
      encryptedPassword: encrypted,
      emailConfirmed: !!email && emailConfirm,
      phoneConfirmed: !!phone && phoneConfirm,
      appMetadata: { provider: providers[0], providers, ...appMetadata },
      // GoTrue's admin create keeps the identity's claims out of user_metadata: it is the caller's object.
      userMetadata,
      isAnonymous: false,
    })
    if (email) await insertIdentity(tx, { userId: user.id, provider: 'email', providerId: user.id, data: JSON.parse(JSON.stringify({ ...identityData, phone: undefined })) })
    if (phone) await insertIdentity(tx, { userId: user.id, provider: 'phone', providerId: user.id, data: JSON.parse(JSON.stringify({ ...identityData, email: undefined })) })
    if (bannedSeconds !== undefined) user = await setBan(tx, user.id, bannedSeconds)
    await writeAudit(tx, { action: 'user_signedup', actorId: user.id, actorUsername: email ?? phone ?? '', ip, traits: { provider: providers[0] } })
    return json(tx, user)
  })
  return c.json(created)
}

export async function getUserById(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const id = userIdParam(c)
  return c.json(await deps.transaction(async (tx) => json(tx, await loadOr404(tx, id))))
}

export async function updateUserById(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const id = userIdParam(c)
  const body = await readBody(c)
  const rawEmail = str(body, 'email')
  const rawPhone = str(body, 'phone')
  const email = rawEmail ? validateEmail(rawEmail) : undefined
  const phone = rawPhone ? validatePhone(rawPhone) : undefined
  const emailConfirm = bool(body, 'email_confirm')
  const phoneConfirm = bool(body, 'phone_confirm')
  const userMetadata = obj(body, 'user_metadata')
  const appMetadata = obj(body, 'app_metadata')
  const rawRole = str(body, 'role')
  const role = rawRole ? assignableRole(rawRole, deps) : undefined
  const banDuration = str(body, 'ban_duration')
  const bannedSeconds = banDuration ? parseBanDuration(banDuration) : undefined
  const encrypted = await passwordFrom(body, true, deps)
  const ip = clientIp(c)

  const updated = await deps.transaction(async (tx) => {
    let user = await loadOr404(tx, id, true)
    const patch: UserPatch = {}
    if (email !== undefined && email !== user.email) {
      const taken = await findUserByEmail(tx, email)
      if (taken && taken.id !== user.id) throw unprocessable('email_exists', 'A user with this email address has already been registered')
      patch.email = email
      const hasIdentity = (await listIdentities(tx, [user.id])).some((i) => i.provider === 'email')
      if (hasIdentity) await mergeIdentityData(tx, user.id, 'email', { email })
      else await insertIdentity(tx, { userId: user.id, provider: 'email', providerId: user.id, data: { sub: user.id, email, email_verified: !!emailConfirm, phone_verified: false } })
    }
    if (phone !== undefined && phone !== user.phone) {
      const taken = await findUserByPhone(tx, phone)
      if (taken && taken.id !== user.id) throw unprocessable('phone_exists', 'Phone number already registered by another user')
      patch.phone = phone
    }
    if (emailConfirm === true && (email ?? user.email)) {
      if (!user.email_confirmed_at || patch.email) patch.email_confirmed_at = NOW
      patch.is_anonymous = false
    }
    if (phoneConfirm === true && (phone ?? user.phone)) {
      if (!user.phone_confirmed_at || patch.phone) patch.phone_confirmed_at = NOW
      patch.is_anonymous = false
    }
    if (userMetadata) patch.raw_user_meta_data = mergeMetadata(user.raw_user_meta_data, userMetadata)
    if (appMetadata) patch.raw_app_meta_data = mergeMetadata(user.raw_app_meta_data, appMetadata)
    if (role) patch.role = role
    if (encrypted) patch.encrypted_password = encrypted
    if (Object.keys(patch).length) user = await updateUser(tx, user.id, patch)
    if (bannedSeconds !== undefined) user = await setBan(tx, user.id, bannedSeconds)
    // A new password signs the user out everywhere.
    if (encrypted) await deleteSessions(tx, user.id, 'global')
    await writeAudit(tx, { action: 'user_modified', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip })
    return json(tx, user)
  })
  return c.json(updated)
}

export async function deleteUserById(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const id = userIdParam(c)
  const body = await readBody(c)
  const soft = bool(body, 'should_soft_delete') ?? false
  const ip = clientIp(c)
  await deps.transaction(async (tx) => {
    const user = await loadOr404(tx, id, true)
    await writeAudit(tx, { action: 'user_deleted', actorId: user.id, actorUsername: user.email ?? user.phone ?? '', ip })
    if (!soft) return deleteUser(tx, user.id)
    if (user.deleted_at) return // a repeated soft delete changes nothing
    await softDeleteUser(tx, user)
  })
  return c.json({})
}

export async function auditLog(c: AuthContext, deps: AuthDeps): Promise<Response> {
  const page = pageParam(c.req.query('page'), 'page', 1, 1_000_000)
  const perPage = pageParam(c.req.query('per_page'), 'per_page', 50, 1000)
  const entries = await deps.transaction((tx) => listAuditEntries(tx, perPage, (page - 1) * perPage))
  return c.json(entries)
}
