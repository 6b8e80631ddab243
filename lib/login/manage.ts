import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { LoginInfo } from '../../types/index'
import { isValidUserId } from '../constants'
import { peekContext, type CurrentLogin } from '../context'
import { InvalidArgumentError, JwtLoginsUnkeptError, LoginStoreUnsupportedError, ReauthenticationRequiredError, UnauthorizedError } from '../errors'
import type { Logins } from '../login-store/logins'
import { registrationOf, type Registration } from '../registration'

// Login ids are 22 base64url characters; anything else names no login and is not looked up.
const LOGIN_ID = /^[A-Za-z0-9_-]{22}$/

function keptLogins (registration: Registration, feature: string): Logins {
  const { logins } = registration
  if (logins === undefined || !logins.full) throw new LoginStoreUnsupportedError(feature)
  const { jwt } = registration.backends
  if (jwt !== undefined && jwt.keptLogins === undefined) throw new JwtLoginsUnkeptError(feature)
  return logins
}

/** The request's login, or a 401 when it is anonymous. */
export function requireLogin (request: FastifyRequest): CurrentLogin {
  const login = request.user == null ? undefined : peekContext(request)?.login
  if (login === undefined) throw new UnauthorizedError()
  return login
}

function checkUserId (userId: unknown, call: string): asserts userId is string | number {
  if (!isValidUserId(userId)) throw new InvalidArgumentError(`${call}() takes a user id (a non-empty string or a safe integer)`)
}

/** The current user's live logins, newest first, the current one marked. */
export async function listLogins (request: FastifyRequest): Promise<LoginInfo[]> {
  const registration = registrationOf(request)
  const login = requireLogin(request)
  return await keptLogins(registration, 'listLogins()').list(login.record.userId, login, request)
}

/** Ends one of the current user's logins by its id; false when the id names none of them. */
export async function endLogin (request: FastifyRequest, id: unknown): Promise<boolean> {
  const registration = registrationOf(request)
  const login = requireLogin(request)
  const logins = keptLogins(registration, 'endLogin()')
  if (typeof id !== 'string' || !LOGIN_ID.test(id)) return false
  const ended = await logins.endById(login.record.userId, id, request)
  if (ended && id === login.record.id) request.user = null
  return ended
}

/** Ends every login of the current user but this request's; resolves to how many. */
export async function endOtherLogins (request: FastifyRequest): Promise<number> {
  const registration = registrationOf(request)
  const login = requireLogin(request)
  return await keptLogins(registration, 'endOtherLogins()').endAll(login.record.userId, login, request)
}

/** "Sign out everywhere": every login of a user, on every instance sharing the store. */
export async function endUserLogins (registration: Registration, userId: unknown): Promise<number> {
  checkUserId(userId, 'endLogins')
  return await keptLogins(registration, 'endLogins()').endAll(userId)
}

export async function listUserLogins (registration: Registration, userId: unknown): Promise<LoginInfo[]> {
  checkUserId(userId, 'listLogins')
  return await keptLogins(registration, 'listLogins()').list(userId)
}

/** A preHandler: 401 unless the current login proved its user within `maxAgeMs`. */
export function requireRecentLogin (registration: Registration, maxAgeMs: unknown) {
  if (typeof maxAgeMs !== 'number' || !Number.isFinite(maxAgeMs) || maxAgeMs <= 0) {
    throw new InvalidArgumentError('requireRecentLogin() takes a positive number of milliseconds')
  }
  return async function requireRecentLogin (request: FastifyRequest): Promise<void> {
    const login = requireLogin(request)
    if (registration.options.now() - login.record.authenticatedAt > maxAgeMs) throw new ReauthenticationRequiredError()
  }
}

/** onResponse: the login's `seenAt`, at most once per `touchInterval`, after the response; a failure is logged. */
export function touchLogin (logins: Logins) {
  return function touchLogin (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const login = peekContext(request)?.login
    if (login !== undefined && login.handle !== '' && request.user != null && logins.dueForTouch(login)) {
      logins.touch(login).catch((err: unknown) => {
        request.log.warn({ err }, 'fastify-auth-helpers: could not record when the login was last seen')
      })
    }
    done()
  }
}
