import { createHmac } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { isSupportedBackend, type BackendName } from './constants'
import {
  AuthenticationError, BackendNotConfiguredError, BusyError, InvalidOptionError, InvalidUserIdError,
  LoginStoreUnsupportedError, ReauthenticationRequiredError, UnauthorizedError, UnsupportedBackendError, UserStoreError
} from './errors'
import { currentLogin, type CurrentLogin, type LoginInfo, type Logins } from './logins'
import type { LoginFailureReason, ResolvedOptions, User, UserId } from './options'
import { isArgon2Hash, isWellFormed, type PasswordHasher } from './password'
import { isPromiseLike, isValidUserId, type Backend, type StoredLogin } from './backends/backend'

/** Everything one registration of the plugin knows, shared by its decorators and the seed-named functions. */
export interface AuthState {
  readonly options: ResolvedOptions
  readonly backends: Partial<Record<BackendName, Backend>>
  /** Backends in the order a request's login is looked for. */
  readonly resolutionOrder: readonly Backend[]
  readonly hasher: PasswordHasher
  defaultBackend: BackendName
  authHash (user: User, passwordHash?: string): string
  /** The login store every login of this registration is kept in, when the plugin knows it at registration. */
  readonly logins: Logins | undefined
  /** Makes the records of logins that no store keeps (JWT without a login store): their times, never stored. */
  readonly unstored: Logins
}

export const kAuthState = Symbol('fastify-auth-helpers.state')

const AUTH_HASH_CACHE_SIZE = 10_000

/** The user's id and password hash as one unambiguous string: the id typed and length-prefixed, then the hash. */
function authHashInput (id: unknown, passwordHash: unknown): string {
  const idText = typeof id === 'string' ? `s${id}` : typeof id === 'number' ? `n${id}` : '-'
  return `${idText.length}:${idText}:${typeof passwordHash === 'string' ? passwordHash : ''}`
}

/**
 * The hash that authenticate() just checked the password against (or upgraded it to), kept on the request for the
 * login() that follows, which records that hash rather than whatever the user object holds by then. The object may
 * still hold the old hash after an upgrade (a store whose updatePasswordHash writes a database row and leaves the
 * object alone): a login recorded with it would read as a password change, and end, on its very next request. And it
 * may already hold a newer one: a password reset that stored a new hash on the same object (a cache, an in-memory
 * store) while this login was checking the old password would otherwise give the old password a login that outlives
 * the reset. changePassword() puts the new hash here for the same reason.
 */
const kUpgradedHash = Symbol('fastify-auth-helpers.upgradedHash')

type UpgradeCarrier = FastifyRequest & { [kUpgradedHash]?: { user: User, hash: string } }

/** The user whose password authenticate() checked on this request: a login() of them is a new login, not a renewal. */
const kProved = Symbol('fastify-auth-helpers.proved')

type ProvedRequest = FastifyRequest & { [kProved]?: User }

/** The hash the next login() of `user` on this request records, whatever `user` holds by then (see kUpgradedHash). */
export function recordHashForLogin (request: FastifyRequest, user: User, hash: string): void {
  ;(request as UpgradeCarrier)[kUpgradedHash] = { user, hash }
}

/**
 * An HMAC of the user's id and password hash, kept with the login: when the password changes, so does this, and every
 * login made before the change stops authenticating (Django's session auth hash). The id is in it because users without
 * a password all have the same (empty) hash: without it, a user store that answers for one id with another
 * passwordless user would have that user taken for the login's. Cached because it is computed on every authenticated
 * request; the cache is keyed by its input.
 */
export function createAuthHasher (secret: string | Buffer, getPasswordHash: (user: User) => unknown, getUserId: (user: User) => unknown): (user: User, passwordHash?: string) => string {
  // Keyed by the password hash, then the id, rather than by authHashInput's string: building that string on every
  // request cost more than the rest of the check (660 against 240 ns, bench/micro.js). The digest itself is still
  // made from authHashInput, so ids of different types never share one.
  const cache = new Map<unknown, Map<unknown, string>>()
  let size = 0
  return function authHash (user, passwordHash = getPasswordHash(user) as string) {
    const id = getUserId(user)
    let byId = cache.get(passwordHash)
    let digest = byId?.get(id)
    if (digest === undefined) {
      digest = createHmac('sha256', secret).update('fastify-auth-helpers:auth-hash:').update(authHashInput(id, passwordHash)).digest('base64url')
      if (size >= AUTH_HASH_CACHE_SIZE) {
        cache.clear()
        size = 0
        byId = undefined
      }
      if (byId === undefined) cache.set(passwordHash, byId = new Map())
      byId.set(id, digest)
      size++
    }
    return digest
  }
}

/**
 * Constant-time for equal lengths, like crypto.timingSafeEqual, without the two Buffers that would cost on every
 * authenticated request (bench/README.md). The length is public: every auth hash is 43 base64url characters.
 */
export function sameAuthHash (stored: unknown, expected: string): boolean {
  if (typeof stored !== 'string' || stored.length !== expected.length) return false
  let difference = 0
  for (let i = 0; i < expected.length; i++) difference |= stored.charCodeAt(i) ^ expected.charCodeAt(i)
  return difference === 0
}

export function stateOf (request: FastifyRequest): AuthState {
  const state = (request.server as FastifyInstance & { [kAuthState]?: AuthState })[kAuthState]
  if (state === undefined) throw new InvalidOptionError('fastify-auth-helpers is not registered on this Fastify instance')
  return state
}

export function backendNamed (state: AuthState, name: unknown = state.defaultBackend): Backend {
  if (!isSupportedBackend(name)) throw new UnsupportedBackendError(name)
  const backend = state.backends[name]
  if (backend === undefined) throw new BackendNotConfiguredError(name, name)
  return backend
}

export async function emit<E extends { request: FastifyRequest }> (hook: ((event: E) => unknown) | undefined, name: string, event: E): Promise<void> {
  if (hook === undefined) return
  // Not enumerable: an app that logs the event whole (`log.warn(event)`) must not write the request, and with it
  // the password in its body, into its logs. The listener still reads `event.request`.
  Object.defineProperty(event, 'request', { enumerable: false })
  try {
    await hook(event)
  } catch (err) {
    // An app's listener failing must neither undo a login nor leak into the response.
    event.request.log.error({ err }, `fastify-auth-helpers: the ${name} listener threw`)
  }
}

/**
 * A user store call whose failure becomes a 503 that keeps the store's error as its cause, off the response. Answers
 * without a promise when the store does (a cache): the onRequest hook resolves users through it on every request.
 */
export function askUsers<T> (method: 'findByUsername' | 'findById', call: () => T | PromiseLike<T>): T | Promise<T> {
  const fail = (err: unknown): never => { throw new UserStoreError(method, { cause: err }) }
  let answer: T | PromiseLike<T>
  try {
    answer = call()
  } catch (err) {
    return fail(err)
  }
  return isPromiseLike(answer) ? Promise.resolve(answer).then(undefined, fail) : answer
}

function byteLength (value: string): number {
  return Buffer.byteLength(value, 'utf8')
}

/**
 * Checks a username and password against the user store. Every way of failing gives the same error after the
 * same work (one user lookup, one argon2 verify), so neither the answer nor its timing tells them apart. When
 * argon2's queue is full it rejects with BusyError (503) instead, for the load alone: see below.
 */
export async function authenticate (request: FastifyRequest, username: unknown, password: unknown): Promise<User> {
  const state = stateOf(request)
  const { options, hasher } = state
  const fail = failure(request, state, typeof username === 'string' ? username : null)
  // argon2 takes arrays and buffers as passwords, so only well-formed strings of sane size get past this line. A NUL in
  // a username names nobody: PostgreSQL refuses it in text (an error, a 503 and a log line per attempt), C strings end
  // at it. In a password it is just a character: argon2 hashes the bytes.
  if (typeof username !== 'string' || username.length === 0 || byteLength(username) > options.maxUsernameLength ||
      !isWellFormed(username) || username.includes('\u0000') || !isPassword(state, password)) {
    return fail('invalid-input')
  }
  // A full queue is refused before the user store is asked (a flood costs no lookups), and the verify below is
  // refused the same way if the queue filled meanwhile: either way the refusal depends on the queue alone, not on
  // whether the user exists. It is not a failed login (no password was checked), so onLoginFailed is not called.
  if (hasher.full) throw new BusyError()

  const user = await askUsers('findByUsername', () => options.users.findByUsername(username))
  return await checkPassword(request, state, user, password, fail)
}

function isPassword (state: AuthState, password: unknown): password is string {
  return typeof password === 'string' && password.length > 0 &&
    byteLength(password) <= state.options.maxPasswordLength && isWellFormed(password)
}

type Fail = (reason: LoginFailureReason) => Promise<never>

function failure (request: FastifyRequest, state: AuthState, username: string | null): Fail {
  return async (reason) => {
    await emit(state.options.onLoginFailed, 'onLoginFailed', { request, username, reason })
    throw new AuthenticationError()
  }
}

/**
 * The password check of authenticate() and reauthenticate(): one argon2 verify whether or not there is a user, then
 * the same failure for every reason; on success, the hash upgraded when its parameters are outdated.
 */
async function checkPassword (request: FastifyRequest, state: AuthState, user: User | null | undefined, password: string, fail: Fail): Promise<User> {
  const { options, hasher } = state
  const storedHash = user == null ? undefined : options.getPasswordHash(user)
  const matches = await hasher.verify(storedHash, password)
  if (user == null) return fail('unknown-user')
  if (!matches) return fail(isArgon2Hash(storedHash) ? 'wrong-password' : 'no-password')
  // Activity is checked after the password, so an inactive account is not revealed to someone without it.
  if (!options.isActive(user)) return fail('inactive')

  ;(request as ProvedRequest)[kProved] = user
  let checkedHash = storedHash as string
  if (options.users.updatePasswordHash !== undefined && hasher.needsRehash(checkedHash)) {
    try {
      const upgraded = await hasher.hash(password)
      await options.users.updatePasswordHash(user, upgraded)
      checkedHash = upgraded
    } catch (err) {
      request.log.error({ err }, 'fastify-auth-helpers: could not store the upgraded password hash')
    }
  }
  recordHashForLogin(request, user, checkedHash)
  return user
}

export interface LoginOptions {
  user?: User | null
  userId?: unknown
  backend?: unknown
  remember?: unknown
}

/**
 * Ids as databases give them (a bigint column read by Kysely, Prisma or pg with a BigInt parser) that a login cannot
 * hold fail as the server error they are: as a 401 they would tell a user with the right password that it was wrong.
 */
function refuseUnstorableId (id: unknown, source: string, fix: string): void {
  if (typeof id === 'bigint') throw new InvalidUserIdError(source, 'a bigint', fix)
  if (typeof id === 'number' && Number.isInteger(id) && !Number.isSafeInteger(id)) {
    throw new InvalidUserIdError(source, 'an integer beyond Number.MAX_SAFE_INTEGER', fix)
  }
}

export async function login (request: FastifyRequest, loginOptions: LoginOptions): Promise<string | undefined> {
  const state = stateOf(request)
  if (loginOptions === null || typeof loginOptions !== 'object') {
    throw new AuthenticationError('login() takes { user } or { userId }')
  }
  const { user, userId, backend: backendName, remember } = loginOptions
  const backend = backendNamed(state, backendName ?? state.defaultBackend)
  if (remember !== undefined && typeof remember !== 'boolean') throw new AuthenticationError('login() takes `remember` as a boolean')
  const { options } = state
  const hasUser = user != null
  if (hasUser === (userId != null)) throw new AuthenticationError('login() takes exactly one of user and userId')

  let id: UserId
  let theUser: User
  if (hasUser) {
    if (typeof user !== 'object') throw new AuthenticationError('login() was given a user that is not an object')
    const ownId = options.getUserId(user)
    refuseUnstorableId(ownId, '`getUserId(user)`', '`getUserId: (user) => String(user.id)`')
    if (!isValidUserId(ownId)) throw new AuthenticationError('login() was given a user without a valid id')
    id = ownId
    theUser = user
  } else {
    refuseUnstorableId(userId, '`login({ userId })`', '`login({ userId: String(id) })` with `getUserId: (user) => String(user.id)`')
    if (!isValidUserId(userId)) throw new AuthenticationError('login() was given an invalid userId')
    const found = await askUsers('findById', () => options.users.findById(userId))
    if (found == null) throw new AuthenticationError('login() was given the id of no user')
    id = userId
    theUser = found
  }
  if (!options.isActive(theUser)) throw new AuthenticationError('login() was given an inactive user')

  const upgrade = (request as UpgradeCarrier)[kUpgradedHash]
  const authHash = state.authHash(theUser, upgrade?.user === theUser ? upgrade.hash : undefined)
  const logins = loginsFor(state, backend, request)
  // The same user again on the login this request carries, without a password checked on this request: the same
  // login under a new session id or token (the README's way to renew an id), keeping its creation time, so that
  // renewing never extends a login's absolute lifetime, and its last password proof.
  const carried = currentLogin(request)
  const renewing = carried !== undefined && carried.backend === backend.name && carried.handle !== '' &&
    String(carried.record.userId) === String(id) && (request as ProvedRequest)[kProved] !== theUser
    ? carried
    : undefined
  const plan = {
    record: renewing === undefined
      ? logins.newRecord(request, { userId: id, authHash, backend: backend.name, remember: (remember as boolean | undefined) ?? null })
      : logins.renewedRecord(renewing.record, { authHash, remember: remember as boolean | undefined }),
    renewing
  }
  const token = await backend.login(request, plan)
  ;(request as ResolvedRequest)[kResolvedBy] = backend
  request.user = theUser as typeof request.user
  await emit(options.onLogin, 'onLogin', { request, user: theUser, backend: backend.name })
  return token
}

export async function logout (request: FastifyRequest, logoutOptions?: { backend?: unknown }): Promise<void> {
  const state = stateOf(request)
  // The seed's `logout(request, backend)` ported as `logout(request, 'jwt')` would read no backend from the string and
  // log out the default one instead, leaving the token valid while the route reports a logout.
  if (logoutOptions != null && (typeof logoutOptions !== 'object' || Array.isArray(logoutOptions))) {
    throw new InvalidOptionError(`logout() takes { backend } (an object), not ${Array.isArray(logoutOptions) ? 'an array' : `a ${typeof logoutOptions}`}`)
  }
  const backend = logoutOptions?.backend === undefined ? requestBackend(state, request) : backendNamed(state, logoutOptions.backend)
  const userId = backend.storedUserId(request)
  await backend.logout(request)
  ;(request as ResolvedRequest)[kResolvedBy] = undefined
  request.user = null
  await emit(state.options.onLogout, 'onLogout', { request, userId, backend: backend.name })
}

/**
 * The user behind the request's login with `backend`, or null: null when there is no login, when the user is gone
 * or inactive, and when the password changed since; the stale login is then ended too. Answers without a promise
 * when the backend and the user store do (the onRequest hook runs it on every authenticated request): the caller
 * tells the two apart with `instanceof Promise`, which a user never is (a promise from `findById` is awaited here).
 */
export function resolveUser (state: AuthState, backend: Backend, request: FastifyRequest): User | null | Promise<User | null> {
  const stored = backend.read(request)
  if (stored instanceof Promise) return stored.then(login => userOf(state, backend, request, login))
  return userOf(state, backend, request, stored)
}

function userOf (state: AuthState, backend: Backend, request: FastifyRequest, stored: StoredLogin | null): User | null | Promise<User | null> {
  if (stored === null) return null
  const found = askUsers('findById', () => state.options.users.findById(stored.userId))
  if (found instanceof Promise) return found.then(user => checkedUser(state, backend, request, stored, user))
  return checkedUser(state, backend, request, stored, found)
}

function checkedUser (state: AuthState, backend: Backend, request: FastifyRequest, stored: StoredLogin, user: User | null | undefined): User | Promise<null> {
  if (user != null && state.options.isActive(user) && sameAuthHash(stored.authHash, state.authHash(user))) return user
  return backend.logout(request).then(() => null)
}

/**
 * `request.user`, typed and never null, for handlers behind `app.requireUser`; elsewhere the same 401 as that
 * preHandler, its challenge carried as the error's headers (Fastify's error handler sends them).
 */
export function requireUser (request: FastifyRequest): User {
  const state = stateOf(request)
  if (request.user != null) return request.user
  const error = new UnauthorizedError() as Error & { headers?: Record<string, string> }
  const challenge = state.resolutionOrder.find(backend => backend.challenge !== undefined)?.challenge
  if (challenge !== undefined) error.headers = { 'www-authenticate': challenge(request) }
  throw error
}

export async function getUserFromSession (request: FastifyRequest): Promise<User | null> {
  const state = stateOf(request)
  return await resolveUser(state, backendNamed(state, 'session'), request)
}

export async function getUserFromJwt (request: FastifyRequest): Promise<User | null> {
  const state = stateOf(request)
  return await resolveUser(state, backendNamed(state, 'jwt'), request)
}

export function getUserId (request: FastifyRequest, backend?: unknown): UserId | null {
  const state = stateOf(request)
  return (backend === undefined ? requestBackend(state, request) : backendNamed(state, backend)).storedUserId(request)
}

/** The backend whose login resolved this request's user (or that login() used), until logout. */
const kResolvedBy = Symbol('fastify-auth-helpers.resolvedBy')

type ResolvedRequest = FastifyRequest & { [kResolvedBy]?: Backend }

export function markResolvedBy (request: FastifyRequest, backend: Backend): void {
  (request as ResolvedRequest)[kResolvedBy] = backend
}

/**
 * The backend that logout() and getUserId() act on when none is named: the one that authenticated this request,
 * so that a bearer client's logout ends its token rather than a session it does not have; the default backend
 * for an anonymous request (the seed's rule).
 */
function requestBackend (state: AuthState, request: FastifyRequest): Backend {
  return (request as ResolvedRequest)[kResolvedBy] ?? backendNamed(state)
}

/**
 * The login store a backend keeps its logins in. The JWT backend without one keeps none (tokens stand alone), and
 * the records it would make are never stored: a throwaway Logins over nothing gives them their times.
 */
function loginsFor (state: AuthState, backend: Backend, request: FastifyRequest): Logins {
  return backend.logins(request) ?? state.unstored
}

function loginsOf (state: AuthState, feature: string): Logins {
  if (state.logins === undefined || !state.logins.full) throw new LoginStoreUnsupportedError(feature)
  return state.logins
}

/** The current request's login as kept in the store, or a 401 when the request is anonymous. */
function requireLogin (request: FastifyRequest): CurrentLogin {
  const login = request.user == null ? undefined : currentLogin(request)
  if (login === undefined) throw new UnauthorizedError()
  return login
}

/** The current user's live logins, newest first, the current one marked. */
export async function listLogins (request: FastifyRequest): Promise<LoginInfo[]> {
  const state = stateOf(request)
  const login = requireLogin(request)
  return await loginsOf(state, 'listLogins()').list(login.record.userId, login)
}

/** Ends one of the current user's logins by its id; false when the id names none of them. */
export async function endLogin (request: FastifyRequest, id: unknown): Promise<boolean> {
  const state = stateOf(request)
  const login = requireLogin(request)
  const logins = loginsOf(state, 'endLogin()')
  // Login ids are 22 base64url characters; anything else names no login and is not looked up.
  if (typeof id !== 'string' || !LOGIN_ID.test(id)) return false
  const ended = await logins.endById(login.record.userId, id, request)
  if (ended && id === login.record.id) {
    request.user = null
  }
  return ended
}

const LOGIN_ID = /^[A-Za-z0-9_-]{22}$/

/** Ends every login of the current user but this request's; resolves to how many. */
export async function endOtherLogins (request: FastifyRequest): Promise<number> {
  const state = stateOf(request)
  const login = requireLogin(request)
  return await loginsOf(state, 'endOtherLogins()').endAll(login.record.userId, login, request)
}

/** "Sign out everywhere": ends every login of a user, on every instance sharing the store. */
export async function endLogins (state: AuthState, userId: unknown): Promise<number> {
  if (!isValidUserId(userId)) throw new InvalidOptionError('endLogins() takes a user id (a non-empty string or a safe integer)')
  return await loginsOf(state, 'endLogins()').endAll(userId)
}

export async function listUserLogins (state: AuthState, userId: unknown): Promise<LoginInfo[]> {
  if (!isValidUserId(userId)) throw new InvalidOptionError('listLogins() takes a user id (a non-empty string or a safe integer)')
  return await loginsOf(state, 'listLogins()').list(userId)
}

/**
 * Checks the current user's password as authenticate() does (one failure, one argon2 verify, the same events) and
 * marks the current login as having just proved it, without a new login. A wrong password changes nothing; a login
 * that ended meanwhile stays ended (401).
 */
export async function reauthenticate (request: FastifyRequest, password: unknown): Promise<void> {
  const state = stateOf(request)
  const login = requireLogin(request)
  const fail = failure(request, state, null)
  if (!isPassword(state, password)) return await fail('invalid-input')
  // No user lookup to spare here: a full argon2 queue refuses the verify itself with BusyError.
  await checkPassword(request, state, request.user as User, password, fail)
  const logins = login.handle === '' ? undefined : backendNamed(state, login.backend).logins(request)
  if (logins === undefined || !logins.full) throw new LoginStoreUnsupportedError('reauthenticate()')
  if (!await logins.reauthenticated(login)) {
    request.user = null
    throw new UnauthorizedError()
  }
}

/** A preHandler: 401 unless the current login proved its password within `maxAgeMs`. */
export function requireRecentLogin (state: AuthState, maxAgeMs: unknown) {
  if (typeof maxAgeMs !== 'number' || !Number.isFinite(maxAgeMs) || maxAgeMs <= 0) {
    throw new InvalidOptionError('requireRecentLogin() takes a positive number of milliseconds')
  }
  return async function requireRecentLogin (request: FastifyRequest): Promise<void> {
    const login = requireLogin(request)
    if (state.options.now() - login.record.authenticatedAt > maxAgeMs) throw new ReauthenticationRequiredError()
  }
}
