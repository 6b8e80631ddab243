import fp from 'fastify-plugin'
import fastifyCookie from '@fastify/cookie'
import fastifySession, { MemoryStore } from '@fastify/session'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import {
  BACKEND_KEY, DEFAULT_AUTH_BACKEND, SUPPORTED_BACKENDS, USER_ID_KEY, type BackendName
} from './constants'
import { AuthenticationError, InvalidOptionError, UnauthorizedError } from './errors'
import { resolveOptions, type RawOptions, type ResolvedOptions } from './options'
import { PasswordHasher, isWellFormed } from './password'
import { cachingSigner, renewRotatedCookie, type SessionSigner } from './signer'
import { timedStore, type SessionStore } from './store'
import {
  authenticate, backendNamed, createAuthHasher, endLogin, endLogins as endUserLogins, endOtherLogins, getUserFromJwt,
  getUserFromSession, getUserId, kAuthState, listLogins, listUserLogins, login, logout, markResolvedBy, reauthenticate,
  requireRecentLogin as recentLoginCheck, requireUser, resolveUser, type AuthState, type LoginOptions
} from './auth'
import type { Backend } from './backends/backend'
import {
  createSessionBackend, expireCookieWithItsFlags, loginAwareIdGenerator, prefetchLoginRecord, skippingRegenerateWrites,
  type LoginsOf
} from './backends/session'
import { currentLogin, loginEndedListener, Logins, type LifetimeOptions } from './logins'
import { createMemoryLoginStore, sessionStoreLogins, timedLoginStore } from './login-store'
import { refresh, type RefreshedTokens } from './refresh'
import { createRedisLoginStore } from './redis-login-store'
import type { UserId } from './options'
import { createJwtBackend } from './backends/jwt'
import { createPasswords, passwordsOf, type PasswordOptions, type ResetRequestOptions } from './passwords'

/**
 * @fastify/session options with the plugin's defaults (see "Session defaults" in the README for each reason), and
 * how to drop a session's cookie from the signature cache when there is one: not with `session.cacheSize: 0`, nor
 * with the app's own signer object as `secret`.
 */
function sessionOptions (options: ResolvedOptions & { session: object }): { registered: Record<string, unknown>, forget?: (sessionId: string) => void, rotation?: SessionSigner, timed: SessionStore, synchronous: boolean } {
  const { storeTimeout: _timeout, cacheSize: _cacheSize, cookie, store, secret, ...rest } = options.session
  // The same signatures as @fastify/session's own signer, each checked once rather than on every request.
  const signer = typeof secret === 'string' || Buffer.isBuffer(secret) || Array.isArray(secret)
    ? cachingSigner(secret, rest.algorithm as string | undefined, options.sessionCacheSize)
    : undefined
  const forget = options.sessionCacheSize > 0 ? signer?.forget : undefined
  // @fastify/session's MemoryStore answers synchronously, which makes the login store over it atomic (lib/login-store.ts).
  const synchronous = store === undefined || store instanceof MemoryStore
  const timed = timedStore((store ?? new MemoryStore()) as SessionStore, options.storeTimeout)
  const registered = {
    // An anonymous visitor costs no store write and gets no cookie.
    saveUninitialized: false,
    // Re-saving every unchanged session on every request costs a store write and a Set-Cookie per request and
    // buys no safety: sessions expire at the fixed time login gave them unless the app asks for rolling ones.
    rolling: false,
    ...rest,
    idGenerator: loginAwareIdGenerator(rest.idGenerator as ((request: FastifyRequest) => string) | undefined),
    secret: signer ?? secret,
    cookie: { httpOnly: true, sameSite: 'lax', path: '/', secure: true, ...(cookie as object | undefined) },
    store: skippingRegenerateWrites(forget === undefined ? timed : forgettingMissingSessions(timed, forget))
  }
  return { registered, forget, rotation: Array.isArray(secret) && secret.length > 1 ? signer : undefined, timed, synchronous }
}

/**
 * The store, telling the signature cache about each session id the store does not have: a cookie whose session has
 * ended (a logout elsewhere, an expiry, a browser that kept a dead cookie) is checked once, found to name nothing,
 * and not remembered. Only logins in use stay in the cache.
 */
function forgettingMissingSessions (store: SessionStore, forget: (sessionId: string) => void): SessionStore {
  return Object.create(store, {
    get: {
      value: function get (id: string, callback: (error?: unknown, value?: unknown) => void) {
        store.get(id, (error, value) => {
          if (value == null) forget(id)
          callback(error, value)
        })
      }
    }
  })
}

/** What @fastify/session signs cookies with: a secret, a rotation of them, or a signer object of the app's own. */
function isSessionSecret (secret: unknown): boolean {
  if (typeof secret === 'string' || Buffer.isBuffer(secret) || Array.isArray(secret)) return true
  const signer = secret as { sign?: unknown, unsign?: unknown } | null
  return typeof signer?.sign === 'function' && typeof signer.unsign === 'function'
}

/** A login store over the app's own @fastify/session store, found from the request: one per store. */
function loginsOfRequest (storeTimeout: number, lifetime: LifetimeOptions): LoginsOf {
  const byStore = new WeakMap<object, Logins>()
  return function loginsOf (request) {
    const store = (request as unknown as { sessionStore: SessionStore }).sessionStore
    let logins = byStore.get(store)
    if (logins === undefined) {
      logins = new Logins(sessionStoreLogins(timedStore(store, storeTimeout), store instanceof MemoryStore, lifetime.now), lifetime)
      byStore.set(store, logins)
    }
    return logins
  }
}

/**
 * Registers @fastify/cookie and @fastify/session unless the app did, and makes the session backend. Resolves to the
 * backend and the registration's login store when it is known now: the app's `loginStore`, else one over the session
 * store the plugin gave @fastify/session.
 */
async function registerSession (fastify: FastifyInstance, options: ResolvedOptions, lifetime: LifetimeOptions, own: Logins | undefined): Promise<{ backend?: Backend, logins?: Logins }> {
  // No signature cache to keep tidy when the app registered @fastify/session itself.
  let forget: ((sessionId: string) => void) | undefined
  let logins = own
  if (!fastify.hasRequestDecorator('session')) {
    if (options.session === undefined) return { logins }
    if (!isSessionSecret(options.session.secret)) {
      // Checked here, not with the other options: when the app registered @fastify/session, its secret is used.
      throw new InvalidOptionError('`session.secret` is required: a string of 32+ characters (an array of them, ' +
        'newest first, to rotate), for example from an environment variable that is set')
    }
    if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
    const session = sessionOptions(options as ResolvedOptions & { session: object })
    const { registered } = session
    forget = session.forget
    logins ??= new Logins(sessionStoreLogins(session.timed, session.synchronous, lifetime.now), lifetime)
    // Not with the app's own signer object: it would check each cookie twice.
    const signer = registered.secret as Partial<Parameters<typeof prefetchLoginRecord>[2]>
    if (typeof signer.prime === 'function') {
      fastify.addHook('onRequest', prefetchLoginRecord(
        (registered.cookieName as string | undefined) ?? 'sessionId',
        (registered.cookiePrefix as string | undefined) ?? '',
        signer as Parameters<typeof prefetchLoginRecord>[2],
        logins))
    }
    await fastify.register(fastifySession, registered as never)
    const cookieName = (registered.cookieName as string | undefined) ?? 'sessionId'
    if (session.rotation !== undefined) {
      fastify.addHook('onSend', renewRotatedCookie(cookieName, session.rotation, registered.cookiePrefix as string | undefined))
    }
    fastify.addHook('onSend', expireCookieWithItsFlags(cookieName, registered.cookie as object))
  }
  const fixed = logins
  const loginsOf: LoginsOf = fixed === undefined ? loginsOfRequest(options.storeTimeout, lifetime) : () => fixed
  return { backend: createSessionBackend(options.storeTimeout, options.rotateOnLogin, loginsOf, forget), logins }
}

/** Per app (its server is shared by every encapsulated context), the auth hash keys its registrations use. */
const authHashKeys = new WeakMap<object, Array<{ key: Buffer, users: object }>>()

/**
 * A login names a user id and an auth hash; whichever registration reads it looks the id up in its own `users`. Two
 * registrations with two user stores that read the same logins (one session both see, tokens signed with one secret)
 * and key their auth hashes alike take one store's user for the other's with the same id whenever their hashes
 * agree, as every passwordless user's do. Nothing at request time can tell the stores apart, so it fails here.
 */
function claimAuthHashKey (fastify: FastifyInstance, secret: string | Buffer, users: object): void {
  const key = Buffer.from(secret)
  const claimed = authHashKeys.get(fastify.server) ?? []
  authHashKeys.set(fastify.server, claimed)
  if (claimed.some(other => other.users !== users && other.key.equals(key))) {
    throw new InvalidOptionError('another registration of fastify-auth-helpers in this app has other `users` and the ' +
      'same auth hash key (`authHashSecret`, else the session or JWT secret): a login made by one would be taken by ' +
      'the other for its user with the same id. Give each registration its own `authHashSecret` (and its own session ' +
      'cookie or JWT secret), or the same `users`')
  }
  claimed.push({ key, users })
}

async function fastifyAuthHelpers (fastify: FastifyInstance, rawOptions: RawOptions): Promise<void> {
  const options = resolveOptions(rawOptions)

  const lifetime: LifetimeOptions = { ...options.lifetime, now: options.now, ended: loginEndedListener(options.onLoginEnded, fastify.log) }
  const own = options.loginStore === undefined ? undefined : new Logins(timedLoginStore(options.loginStore, options.storeTimeout), lifetime)
  const backends: Partial<Record<BackendName, Backend>> = {}
  // Before registerSession, so that it runs before @fastify/session's onSend saves the session.
  fastify.addHook('onSend', abandonFailedLogins(backends))
  const registered = await registerSession(fastify, options, lifetime, own)
  backends.session = registered.backend
  const logins = registered.logins
  // JWT logins are kept (listed, ended at once) in the app's own login store. Without one, tokens stand alone, as
  // JWTs are expected to: a default in-memory store would make tokens die with the process and fail on every
  // other instance of the app.
  const jwt = options.jwt === undefined ? undefined : await createJwtBackend(fastify, options.jwt, own?.full === true ? own : undefined)
  backends.jwt = jwt
  // Without a store known now (the app registered @fastify/session itself) nothing would write `seenAt`, and an idle
  // timeout would end logins in use.
  if (options.lifetime.idleTimeout > 0 && logins?.full !== true) {
    throw new InvalidOptionError('`logins.idleTimeout` needs a login store that can update logins atomically: pass ' +
      '`loginStore` (createRedisLoginStore(client) for Redis), or keep the default MemoryStore')
  }
  if (backends[options.defaultBackend] === undefined) {
    // Only the session can be the missing one (a jwt default without `jwt` fails in resolveOptions). With `jwt` set,
    // the likelier intent is tokens by default, so say how.
    throw new InvalidOptionError(`the default backend "${options.defaultBackend}" is not configured: pass the ` +
      `\`${options.defaultBackend}\` option (for sessions, registering @fastify/session before this plugin also works)` +
      (options.jwt === undefined ? '' : ", or set `defaultBackend: 'jwt'` to log in with tokens by default"))
  }
  if (options.authHashSecret === undefined) {
    throw new InvalidOptionError('`authHashSecret` (32+ characters) is required when neither `session.secret` nor ' +
      '`jwt.secret` is a string to key the auth hash with')
  }
  claimAuthHashKey(fastify, options.authHashSecret, options.users)

  // First a token in the Authorization header: a credential the client chose to send with this request, so a request
  // with one is judged on it alone (a bad one is anonymous even beside a valid session cookie). Then the session
  // cookie, then the token cookie: both ride along with every request, and a sibling subdomain can plant either in the
  // browser (cookie tossing, SECURITY.md). A token cookie judged first would let a planted one override the victim's
  // `__Host-` session: the attacker's valid token made the victim act as the attacker, a junk one made them anonymous.
  // The JWT backend takes two places, one per way of carrying a token; each is the same backend.
  const resolutionOrder = [
    jwt === undefined ? undefined : { ...jwt, carries: jwt.carriesHeader },
    backends.session,
    jwt === undefined ? undefined : { ...jwt, carries: jwt.carriesCookie }
  ].filter(backend => backend !== undefined)
  const challenge = resolutionOrder.find(backend => backend.challenge !== undefined)?.challenge
  const state: AuthState = {
    options,
    backends,
    resolutionOrder,
    hasher: new PasswordHasher(options.hashOptions, { maxQueued: options.maxQueuedHashes }),
    defaultBackend: options.defaultBackend,
    authHash: createAuthHasher(options.authHashSecret, options.getPasswordHash, options.getUserId),
    logins,
    unstored: new Logins(sessionStoreLogins(new MemoryStore() as SessionStore, true, lifetime.now), lifetime)
  }

  fastify.decorate(kAuthState, state)
  fastify.decorate('setDefaultAuthBackend', function setDefaultAuthBackend (backend: BackendName) {
    // Fails here, where the app makes the mistake, rather than at the next login.
    state.defaultBackend = backendNamed(state, backend).name
  })
  fastify.decorate('hashPassword', function hashPassword (plain: string) {
    if (typeof plain !== 'string' || plain.length === 0) {
      return Promise.reject(new InvalidOptionError('hashPassword() takes a non-empty string'))
    }
    // authenticate() refuses these unhashed, so a hash of one would be a password that can never log in.
    if (Buffer.byteLength(plain, 'utf8') > options.maxPasswordLength) {
      return Promise.reject(new InvalidOptionError(
        `hashPassword() takes at most ${options.maxPasswordLength} UTF-8 bytes (maxPasswordLength): longer passwords cannot log in`))
    }
    if (!isWellFormed(plain)) {
      return Promise.reject(new InvalidOptionError('hashPassword() takes well-formed text: this password has a lone surrogate'))
    }
    return state.hasher.hash(plain)
  })
  fastify.decorate('listLogins', function listLogins (userId: UserId) {
    return listUserLogins(state, userId)
  })
  fastify.decorate('endLogins', function endLogins (userId: UserId) {
    return endUserLogins(state, userId)
  })
  fastify.decorate('requireRecentLogin', function requireRecentLogin (maxAgeMs: number) {
    return recentLoginCheck(state, maxAgeMs)
  })
  fastify.decorate('requireUser', async function requireUser (request: FastifyRequest, reply: FastifyReply) {
    if (request.user == null) {
      if (challenge !== undefined) reply.header('WWW-Authenticate', challenge(request))
      throw new UnauthorizedError()
    }
  })

  if (!fastify.hasRequestDecorator('user')) fastify.decorateRequest('user', null)
  fastify.decorateRequest('authenticate', function (this: FastifyRequest, username: string, password: string) {
    return authenticate(this, username, password) as Promise<typeof this.user & object>
  })
  fastify.decorateRequest('login', function (this: FastifyRequest, loginOptions: LoginOptions) {
    return login(this, loginOptions)
  })
  fastify.decorateRequest('logout', function (this: FastifyRequest, logoutOptions?: { backend?: unknown }) {
    return logout(this, logoutOptions)
  })
  fastify.decorateRequest('getUserId', function (this: FastifyRequest, backend?: BackendName) {
    return getUserId(this, backend)
  })
  fastify.decorateRequest('listLogins', function (this: FastifyRequest) {
    return listLogins(this)
  })
  fastify.decorateRequest('endLogin', function (this: FastifyRequest, id: string) {
    return endLogin(this, id)
  })
  fastify.decorateRequest('endOtherLogins', function (this: FastifyRequest) {
    return endOtherLogins(this)
  })
  fastify.decorateRequest('reauthenticate', function (this: FastifyRequest, password: string) {
    return reauthenticate(this, password)
  })
  // JWT refresh tokens (lib/refresh.ts): login() keeps resolving to the access token; the pair is read from here.
  const jwtBackend = backends.jwt as (Backend & { issuedTokens: (request: FastifyRequest) => RefreshedTokens | null }) | undefined
  fastify.decorateRequest('refresh', function (this: FastifyRequest, token?: string) {
    return refresh(this, token)
  })
  fastify.decorateRequest('issuedTokens', function (this: FastifyRequest) {
    return jwtBackend === undefined ? null : jwtBackend.issuedTokens(this)
  })
  if (logins?.full === true) fastify.addHook('onResponse', touchLogin(logins))
  fastify.decorateRequest('requireUser', function (this: FastifyRequest) {
    return requireUser(this) as typeof this.user & object
  })

  decoratePasswords(fastify, state, rawOptions)

  fastify.addHook('onRequest', resolveRequestUser(state))
  // The dummy hash that failed logins verify against is made before the first request, not during one.
  fastify.addHook('onReady', async function makeDummyHash () {
    await state.hasher.dummyHash()
  })
}

/** Passwords and user tokens (lib/passwords.ts, lib/user-tokens.ts; docs/passwords.md). */
function decoratePasswords (fastify: FastifyInstance, state: AuthState, rawOptions: RawOptions): void {
  const passwords = createPasswords(state, rawOptions as PasswordOptions, fastify.log)
  const { tokens } = passwords
  fastify.decorate('setPassword', function setPassword (user: object, newPassword: string) {
    return passwords.setPassword(user, newPassword)
  })
  fastify.decorate('checkNewPassword', function checkNewPassword (password: string, user: object | null = null) {
    return passwords.checkNewPassword(password, user)
  })
  fastify.decorate('createUserToken', function createUserToken (user: object, tokenOptions: { purpose: string, maxAge?: number }) {
    return tokens.create(user, tokenOptions ?? {})
  })
  fastify.decorate('verifyUserToken', function verifyUserToken (token: string, tokenOptions: { purpose: string }) {
    return tokens.verify(token, tokenOptions ?? {}) as Promise<never>
  })
  fastify.decorate('resetPassword', function resetPassword (token: string, newPassword: string) {
    return passwords.resetPassword(token, newPassword) as Promise<never>
  })
  fastify.decorate('requestPasswordReset', function requestPasswordReset (username: string, resetOptions: never) {
    passwords.requestPasswordReset(username, (resetOptions as ResetRequestOptions | undefined) ?? ({} as ResetRequestOptions))
  })
  fastify.decorateRequest('changePassword', function (this: FastifyRequest, currentPassword: string, newPassword: string) {
    return passwordsOf(this).changePassword(this, currentPassword, newPassword)
  })
  // A reset request still being looked up or mailed when the app closes is finished, not dropped.
  fastify.addHook('onClose', async function settlePasswordResets () {
    await passwords.settled()
  })
}

/**
 * The onSend hook behind "a failed request leaves no login behind", for every backend in one place, decided on the
 * status the response goes out with: a route that throws after `login()` and one that sends a 5xx itself
 * (`reply.code(500).send()`) are the same failure. Each backend undoes the login the request made (Backend.abandon).
 */
function abandonFailedLogins (backends: Partial<Record<BackendName, Backend>>) {
  return function abandonFailedLogins (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    if (reply.statusCode < 500) {
      done()
      return
    }
    Promise.all(Object.values(backends).map(backend => backend?.abandon?.(request, reply))).then(() => done(), done)
  }
}

/**
 * The onRequest hook: anonymous requests finish synchronously, without a promise or a store call, and so do
 * authenticated ones whose session store and user store answer synchronously.
 */
function resolveRequestUser (state: AuthState) {
  return function resolveRequestUser (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    request.user = null
    for (const backend of state.resolutionOrder) {
      if (backend.carries(request)) {
        let user
        try {
          user = resolveUser(state, backend, request)
        } catch (err) {
          done(err as Error)
          return
        }
        if (user instanceof Promise) {
          user.then(found => {
            request.user = found as typeof request.user
            if (found !== null) markResolvedBy(request, backend)
            done()
          }, done)
        } else {
          request.user = user as typeof request.user
          if (user !== null) markResolvedBy(request, backend)
          done()
        }
        return
      }
    }
    done()
  }
}

/**
 * onResponse: the login's `seenAt`, written at most once per `logins.touchInterval`, after the response has gone, so
 * that neither the request's latency nor its outcome depends on it. Its failure is logged, not answered.
 */
function touchLogin (logins: Logins) {
  return function touchLogin (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const login = currentLogin(request)
    if (login !== undefined && login.handle !== '' && request.user != null && logins.dueForTouch(login)) {
      logins.touch(login).catch((err: unknown) => {
        request.log.warn({ err }, 'fastify-auth-helpers: could not record when the login was last seen')
      })
    }
    done()
  }
}

const plugin = fp(fastifyAuthHelpers, { name: 'fastify-auth-helpers', fastify: '5.x' })

export = Object.assign(plugin, {
  default: plugin,
  fastifyAuthHelpers: plugin,
  AuthenticationError,
  USER_ID_KEY,
  BACKEND_KEY,
  DEFAULT_AUTH_BACKEND,
  SUPPORTED_BACKENDS,
  authenticate,
  login,
  logout,
  getUserFromSession,
  getUserFromJwt,
  getUserId,
  listLogins,
  endLogin,
  endOtherLogins,
  reauthenticate,
  refresh,
  createRedisLoginStore,
  createMemoryLoginStore,
  requireUser
})
