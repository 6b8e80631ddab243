import type { FastifyRequest } from 'fastify'
import type { LoginFailureReason, UserId } from '../../types/index'
import { contextOf } from '../context'
import { isValidUserId } from '../constants'
import { AuthenticationError, BusyError, InvalidArgumentError, UnauthorizedError } from '../errors'
import { admit } from '../login/door'
import { emit } from '../login/events'
import { requireLogin } from '../login/manage'
import { askUsers, findUser } from '../login/users'
import type { User } from '../options'
import { backendNamed } from '../registration'
import { isArgon2Hash } from './hasher'
import { isPassword, isUsername, textProblem } from './input'
import { passwordsOf, type Passwords } from './passwords'

type Fail = (reason: LoginFailureReason, user?: User) => Promise<never>

/** `onLoginFailed`, naming the account the password was for when there is one, then the one refusal. */
export function failure (request: FastifyRequest, passwords: Passwords, username: string | null, message?: string): Fail {
  const { options } = passwords.registration
  return async (reason, user) => {
    const id = user === undefined ? null : options.getUserId(user)
    const userId = isValidUserId(id) ? id : null
    await emit(options.onLoginFailed, 'onLoginFailed', { request, username, userId, reason })
    throw new AuthenticationError(message)
  }
}

/**
 * One argon2 verify whether or not there is a user, then the same failure for every reason. On success the hash is
 * upgraded when its parameters are outdated, and the request remembers the hash it matched for the login that follows:
 * the user object may hold another by then (docs/architecture.md, "The proof").
 */
async function checkPassword (request: FastifyRequest, passwords: Passwords, user: User | null | undefined, password: string, fail: Fail): Promise<User> {
  const { registration: { options }, hasher } = passwords
  const storedHash = user == null ? undefined : options.getPasswordHash(user)
  const matches = await hasher.verify(storedHash, password)
  if (user == null) return fail('unknown-user')
  if (!matches) return fail(isArgon2Hash(storedHash) ? 'wrong-password' : 'no-password', user)
  // After the password, so that an inactive account is not revealed to someone without it.
  if (!options.isActive(user)) return fail('inactive', user)
  let checkedHash = storedHash as string
  if (options.users.updatePasswordHash !== undefined && hasher.needsRehash(checkedHash)) {
    try {
      const upgraded = await hasher.hash(password)
      // Only over the hash just checked: a password set meanwhile (a reset) must not be put back to this one.
      const current = await findUser(passwords.registration, options.getUserId(user) as UserId)
      if (current !== null && options.getPasswordHash(current) === storedHash) {
        await options.users.updatePasswordHash(user, upgraded)
        checkedHash = upgraded
      }
    } catch (err) {
      request.log.error({ err }, 'fastify-auth-helpers: could not store the upgraded password hash')
    }
  }
  contextOf(request).proof = { user, hash: checkedHash }
  return user
}

/**
 * Checks a username and password against the user store; every way of failing gives the same error after the same
 * work. A full argon2 queue refuses before the user store is asked: the refusal depends on the load alone.
 */
export async function authenticate (request: FastifyRequest, username: unknown, password: unknown): Promise<User> {
  const passwords = passwordsOf(request)
  const { options } = passwords.registration
  const fail = failure(request, passwords, typeof username === 'string' ? username : null)
  if (!isUsername(username, options.maxUsernameLength) || !isPassword(password, options.maxPasswordLength)) return await fail('invalid-input')
  if (passwords.hasher.full) throw new BusyError()
  const user = await askUsers('findByUsername', () => options.users.findByUsername(username))
  return await checkPassword(request, passwords, user, password, fail)
}

/** Checks the current user's password as `authenticate` does, and marks the current login as having just proved it. */
export async function reauthenticate (request: FastifyRequest, password: unknown): Promise<void> {
  const passwords = passwordsOf(request)
  const { registration } = passwords
  const login = requireLogin(request)
  const fail = failure(request, passwords, null)
  if (!isPassword(password, registration.options.maxPasswordLength)) return await fail('invalid-input', request.user as User)
  // No user lookup to spare here: a full queue refuses the verify itself.
  const user = await checkPassword(request, passwords, request.user as User, password, fail)
  const admitted = await admit(registration, request, {
    way: 'proof',
    backend: backendNamed(registration, login.backend),
    user,
    userId: login.record.userId,
    provedHash: contextOf(request).proof?.hash,
    continues: login
  })
  if (typeof admitted === 'string') {
    request.user = null
    throw new UnauthorizedError()
  }
}

/** `app.hashPassword`: the rules of `authenticate`, so that no hash is made of a password that cannot log in. */
export async function hashPassword (passwords: Passwords, plain: unknown): Promise<string> {
  const { maxPasswordLength } = passwords.registration.options
  switch (textProblem(plain, maxPasswordLength, 'password')) {
    case 'not-text':
    case 'empty': throw new InvalidArgumentError('hashPassword() takes a non-empty string')
    case 'too-long': throw new InvalidArgumentError(`hashPassword() takes at most ${maxPasswordLength} UTF-8 bytes (maxPasswordLength): longer passwords cannot log in`)
    case 'malformed': throw new InvalidArgumentError('hashPassword() takes well-formed text: this password has a lone surrogate')
  }
  return await passwords.hasher.hash(plain as string)
}
