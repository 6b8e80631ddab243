import type { FastifyReply, FastifyRequest } from 'fastify'
import type { BackendName } from '../constants'
import type { UserId } from '../options'
import type { LoginRecord } from '../login-store'
import type { CurrentLogin, Logins } from '../logins'

/** What a backend remembers of a login: the user's id and the auth hash of the password at login time. */
export interface StoredLogin {
  userId: UserId
  authHash: unknown
}

/**
 * What login() asks a backend to store: the record (lib/login-store.ts), and when the same login is being renewed
 * (a new session id or token for the login this request carries), that login, to move rather than end.
 */
export interface LoginPlan {
  record: LoginRecord
  renewing: CurrentLogin | undefined
}

/**
 * The contract between the core (lib/auth.ts) and a place that keeps logins. The core owns users, argon2 and
 * the auth hash check; a backend only stores, reads and forgets a login.
 */
export interface Backend {
  readonly name: BackendName
  /** Cheap and synchronous: does this request carry a login for this backend at all? Anonymous requests stop here. */
  carries (request: FastifyRequest): boolean
  /**
   * The login this request carries, checked against the backend's own state, or null; rejects on store failure. It
   * may answer without a promise when it needs no I/O to (a store that answers synchronously): a promise on every
   * authenticated request was a measurable part of the plugin's cost (bench/README.md). Never a promise's value
   * otherwise: callers tell the two apart with `instanceof Promise`.
   */
  read (request: FastifyRequest): StoredLogin | null | Promise<StoredLogin | null>
  /** Records a login; resolves to the token when the backend issues one. Sets the request's current login. */
  login (request: FastifyRequest, plan: LoginPlan): Promise<string | undefined>
  /** Forgets the request's login so that nothing that carried it authenticates again. */
  logout (request: FastifyRequest): Promise<void>
  /** Where this backend keeps its logins for this request, or undefined when it keeps none (JWT without a store). */
  logins (request: FastifyRequest): Logins | undefined
  /**
   * Undoes the login this request made, if it made one, because its response is a 5xx: nothing of it may reach the
   * client or keep working (lib/index.ts decides on the status, for every backend at once).
   */
  abandon? (request: FastifyRequest, reply: FastifyReply): Promise<void> | void
  /** The user id stored by `login`, unchecked, or null. */
  storedUserId (request: FastifyRequest): UserId | null
  /** The `WWW-Authenticate` challenge of a 401 from `requireUser`, for backends whose clients expect one. */
  challenge? (request: FastifyRequest): string
}

export function isValidUserId (value: unknown): value is UserId {
  // No NUL, as in usernames (lib/auth.ts): a login({ userId }) fed from a request would make PostgreSQL fail on it.
  if (typeof value === 'string') return value.length > 0 && value.length <= 512 && !value.includes('\u0000')
  return Number.isSafeInteger(value)
}

/** One test of "is this answer a promise" for every store and hook the plugin calls (lib/login-store.ts has it). */
export { isThenable as isPromiseLike } from '../login-store'
