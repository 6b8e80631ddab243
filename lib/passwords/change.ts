import type { FastifyRequest } from 'fastify'
import { isValidUserId } from '../constants'
import { contextOf, type CurrentLogin } from '../context'
import { InvalidArgumentError, UnauthorizedError, UserStoreError } from '../errors'
import { failure } from './authenticate'
import { admit } from '../login/door'
import { backendNamed } from '../registration'
import type { User } from '../options'
import { isPassword } from './input'
import type { Passwords } from './passwords'
import { checkNewPassword } from './policy'

/**
 * A new password ends every login made before it on its next request (each carries the auth hash of its password);
 * ending the kept ones too takes them off `listLogins` at once, and ends refresh families before their next refresh.
 */
async function endKeptLogins (passwords: Passwords, user: User, keep?: CurrentLogin): Promise<void> {
  const { logins, options } = passwords.registration
  if (logins === undefined || !logins.full) return
  const id = options.getUserId(user)
  if (isValidUserId(id)) await logins.endAll(id, keep)
}

function hashStorer (passwords: Passwords, user: User): (hash: string) => Promise<void> {
  const update = passwords.registration.options.users.updatePasswordHash
  if (update === undefined) {
    throw new InvalidArgumentError('changing a password needs `users.updatePasswordHash(user, hash)` to store the new hash')
  }
  return async (hash) => {
    try {
      await update(user, hash)
    } catch (err) {
      throw new UserStoreError('updatePasswordHash', { cause: err })
    }
  }
}

/** Stores a new password, which ends every login of the user (an admin, a reset). */
export async function setPassword (passwords: Passwords, user: unknown, newPassword: unknown): Promise<void> {
  if (user === null || typeof user !== 'object' || !isValidUserId(passwords.registration.options.getUserId(user))) {
    throw new InvalidArgumentError('setPassword() takes a user object with a valid id')
  }
  const store = hashStorer(passwords, user)
  await checkNewPassword(passwords, newPassword, user)
  await store(await passwords.hasher.hash(newPassword as string))
  await endKeptLogins(passwords, user)
}

/**
 * Checks the current password as `authenticate` does (one verify, one refusal), stores the new one, renews this
 * request's login under the new password (Django's `update_session_auth_hash`) and ends every other.
 */
export async function changePassword (passwords: Passwords, request: FastifyRequest, currentPassword: unknown, newPassword: unknown): Promise<string | undefined> {
  const { registration, hasher } = passwords
  const { options } = registration
  const user = request.user as User | null
  // The login this request carries, which the change renews: a user the app set by hand has none.
  const carried = contextOf(request).login
  if (user == null || carried === undefined) throw new UnauthorizedError()
  const store = hashStorer(passwords, user)
  await checkNewPassword(passwords, newPassword, user)
  const fail = failure(request, passwords, null, 'Invalid password')
  if (!isPassword(currentPassword, options.maxPasswordLength)) return await fail('invalid-input', user)
  if (!await hasher.verify(options.getPasswordHash(user), currentPassword)) return await fail('wrong-password', user)
  const hash = await hasher.hash(newPassword as string)
  await store(hash)
  const admitted = await admit(registration, request, {
    way: 'renewal',
    backend: backendNamed(registration, carried.backend),
    user,
    userId: options.getUserId(user) as string | number,
    provedHash: hash,
    continues: carried
  })
  if (typeof admitted === 'string') throw new UnauthorizedError()
  await endKeptLogins(passwords, user, contextOf(request).login)
  return admitted.token
}
