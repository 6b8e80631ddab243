import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { UserId } from '../../types/index'
import type { Backend } from '../backend'
import { isValidUserId } from '../constants'
import { contextOf, peekContext } from '../context'
import { AuthenticationError, InvalidArgumentError, UnauthorizedError } from '../errors'
import type { User } from '../options'
import { backendNamed, registrationOf, type Registration } from '../registration'
import { admit } from './door'
import { emit } from './events'
import { askUsers, refuseUnstorableId } from './users'

export interface LoginOptions {
  user?: User | null
  userId?: unknown
  backend?: unknown
  remember?: unknown
}

/** The user and id `login()` was given, checked; the user looked up for `{ userId }`. */
async function userOf (registration: Registration, { user, userId }: LoginOptions): Promise<{ user: User, id: UserId }> {
  if ((user != null) === (userId != null)) throw new AuthenticationError('login() takes exactly one of user and userId')
  if (user != null) {
    if (typeof user !== 'object') throw new AuthenticationError('login() was given a user that is not an object')
    const id = registration.options.getUserId(user)
    refuseUnstorableId(id, '`getUserId(user)`', '`getUserId: (user) => String(user.id)`')
    if (!isValidUserId(id)) throw new AuthenticationError('login() was given a user without a valid id')
    return { user, id }
  }
  refuseUnstorableId(userId, '`login({ userId })`', '`login({ userId: String(id) })` with `getUserId: (user) => String(user.id)`')
  if (!isValidUserId(userId)) throw new AuthenticationError('login() was given an invalid userId')
  const found = await askUsers('findById', () => registration.options.users.findById(userId))
  if (found == null) throw new AuthenticationError('login() was given the id of no user')
  return { user: found, id: userId }
}

/**
 * Logs a user in. The request's own user again, with no password checked on this request, renews the login this
 * request carries: a new session id or token for the same login.
 */
export async function login (request: FastifyRequest, options: LoginOptions): Promise<string | undefined> {
  const registration = registrationOf(request)
  if (options === null || typeof options !== 'object') {
    throw new InvalidArgumentError('login() takes { user } or { userId }')
  }
  const backend = backendNamed(registration, options.backend ?? registration.defaultBackend)
  const { remember } = options
  if (remember !== undefined && typeof remember !== 'boolean') throw new InvalidArgumentError('login() takes `remember` as a boolean')
  const { user, id } = await userOf(registration, options)
  const context = contextOf(request)
  const proof = context.proof?.user === user ? context.proof : undefined
  // The request's own user again, with no password checked on this request: the login it carries, continued. A new
  // login in its stead would count as a new proof of the user, with a new lifetime.
  const carried = context.login
  const renewing = proof === undefined && carried !== undefined && String(carried.record.userId) === String(id)
  const admitted = await admit(registration, request, {
    way: renewing ? 'renewal' : 'login',
    backend,
    user,
    userId: id,
    provedHash: proof?.hash,
    remember,
    continues: renewing ? carried : undefined
  })
  if (admitted === 'inactive') throw new AuthenticationError('login() was given an inactive user')
  // A renewal of a login that ended meanwhile (a logout, endLogins) stays ended; so does one whose password changed.
  if (typeof admitted === 'string') throw new UnauthorizedError()
  return admitted.token
}

/** The backend that authenticated the request (a bearer client's logout ends its token), else the default one. */
export function requestBackend (registration: Registration, request: FastifyRequest): Backend {
  const name = peekContext(request)?.resolvedBy
  return name === undefined ? backendNamed(registration) : backendNamed(registration, name)
}

export async function logout (request: FastifyRequest, options?: { backend?: unknown }): Promise<void> {
  const registration = registrationOf(request)
  // `logout(request, 'jwt')`, the Python helpers' positional form, would otherwise log out the default backend.
  if (options != null && (typeof options !== 'object' || Array.isArray(options))) {
    throw new InvalidArgumentError(`logout() takes { backend } (an object), not ${Array.isArray(options) ? 'an array' : `a ${typeof options}`}`)
  }
  const backend = options?.backend === undefined ? requestBackend(registration, request) : backendNamed(registration, options.backend)
  const userId = backend.storedUserId(request)
  await backend.logout(request)
  contextOf(request).resolvedBy = undefined
  request.user = null
  await emit(registration.options.onLogout, 'onLogout', { request, userId, backend: backend.name })
}

/** onSend: a request that made a login and answers a 5xx (thrown or sent) leaves no login behind, on any backend. */
export function abandonFailedLogins (backends: readonly Backend[]) {
  return function abandonFailedLogins (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    if (reply.statusCode < 500 || peekContext(request) == null) {
      done()
      return
    }
    Promise.all(backends.map(backend => backend.abandon?.(request, reply))).then(() => done(), done)
  }
}
