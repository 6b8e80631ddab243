import fp from 'fastify-plugin'
import { MemoryStore } from '@fastify/session'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { FastifyAuthHelpersOptions, UserId } from '../types/index'
import type { Backend } from './backend'
import { BACKEND_KEY, DEFAULT_AUTH_BACKEND, SUPPORTED_BACKENDS, USER_ID_KEY, type BackendName } from './constants'
import { decorateContext } from './context'
import { AuthenticationError } from './errors'
import { createJwtBackend } from './jwt/backend'
import { createAuthHasher } from './login/auth-hash'
import {
  getUserFromJwt, getUserFromSession, getUserId, requireUser, requireUserHandler, resolveRequestUser
} from './login/current-user'
import { loginEndedListener } from './login/events'
import { abandonFailedLogins, login, logout, type LoginOptions } from './login/login'
import {
  endLogin, endOtherLogins, endUserLogins, listLogins, listUserLogins, requireRecentLogin, touchLogin
} from './login/manage'
import { timedLoginStore } from './login-store/contract'
import { Logins, indexScope } from './login-store/logins'
import { createMemoryLoginStore, sessionStoreLogins } from './login-store/memory'
import { createRedisLoginStore } from './login-store/redis'
import { resolveOptions } from './options'
import { authenticate, hashPassword, reauthenticate } from './passwords/authenticate'
import { changePassword, setPassword } from './passwords/change'
import { createPasswords, passwordsOf } from './passwords/passwords'
import { checkNewPassword } from './passwords/policy'
import { requestPasswordReset, resetPassword, settled, type ResetRequestOptions } from './passwords/reset'
import { refresh } from './refresh/refresh'
import { backendNamed, claimAuthHashKey, decorateRegistration, type Carrier, type Registration } from './registration'
import type { SessionStore } from './store'
import { registerSession } from './session/register'

async function fastifyAuthHelpers (fastify: FastifyInstance, given: FastifyAuthHelpersOptions): Promise<void> {
  const options = resolveOptions(given, fastify.hasRequestDecorator('session'))
  claimAuthHashKey(fastify, options.authHashSecret, options.users)
  const lifetime = { ...options.lifetime, now: options.now, scope: indexScope(options.authHashSecret), ended: loginEndedListener(options.onLoginEnded, fastify.log) }
  const own = options.loginStore === undefined ? undefined : new Logins(timedLoginStore(options.loginStore, options.storeTimeout), lifetime)
  decorateContext(fastify)

  const backends: Backend[] = []
  // Before @fastify/session's onSend, which saves the session.
  fastify.addHook('onSend', abandonFailedLogins(backends))
  const session = await registerSession(fastify, options, lifetime, own)
  const jwt = options.jwt === undefined ? undefined : await createJwtBackend(fastify, options.jwt, own, options.now)
  if (session.backend !== undefined) backends.push(session.backend)
  if (jwt !== undefined) backends.push(jwt)

  // A Bearer header first (judged alone), then the session cookie, then the token cookie: a sibling subdomain can
  // plant either cookie, and a token cookie judged first would override the victim's `__Host-` session.
  const resolutionOrder: Carrier[] = []
  if (jwt !== undefined) resolutionOrder.push({ backend: jwt, carries: jwt.carriesHeader })
  if (session.backend !== undefined) resolutionOrder.push({ backend: session.backend, carries: session.backend.carries })
  if (jwt !== undefined) resolutionOrder.push({ backend: jwt, carries: jwt.carriesCookie })
  const registration: Registration = {
    options,
    backends: { session: session.backend, jwt },
    resolutionOrder,
    defaultBackend: options.defaultBackend,
    authHash: createAuthHasher(options.authHashSecret, options.getPasswordHash, options.getUserId),
    logins: session.logins,
    unstored: new Logins(sessionStoreLogins(new MemoryStore() as unknown as SessionStore, true, options.now), lifetime),
    challenge: jwt?.challenge
  }
  decorateRegistration(fastify, registration)
  const passwords = createPasswords(fastify, registration)

  fastify.decorate('setDefaultAuthBackend', function setDefaultAuthBackend (backend: BackendName) {
    registration.defaultBackend = backendNamed(registration, backend).name
  })
  fastify.decorate('hashPassword', (plain: string) => hashPassword(passwords, plain))
  fastify.decorate('requireUser', requireUserHandler(registration))
  fastify.decorate('requireRecentLogin', (maxAgeMs: number) => requireRecentLogin(registration, maxAgeMs))
  fastify.decorate('listLogins', (userId: UserId) => listUserLogins(registration, userId))
  fastify.decorate('endLogins', (userId: UserId) => endUserLogins(registration, userId))
  fastify.decorate('setPassword', (user: object, newPassword: string) => setPassword(passwords, user, newPassword))
  fastify.decorate('checkNewPassword', (password: string, user: object | null = null) => checkNewPassword(passwords, password, user))
  fastify.decorate('createUserToken', (user: object, tokenOptions: { purpose: string, maxAge?: number }) => passwords.tokens.create(user, tokenOptions ?? {}))
  fastify.decorate('verifyUserToken', (token: string, tokenOptions: { purpose: string }) => passwords.tokens.verify(token, tokenOptions ?? {}) as Promise<never>)
  fastify.decorate('resetPassword', (token: string, newPassword: string) => resetPassword(passwords, token, newPassword) as Promise<never>)
  fastify.decorate('requestPasswordReset', (username: string, resetOptions: never) => {
    requestPasswordReset(passwords, username, resetOptions as ResetRequestOptions | undefined)
  })

  if (!fastify.hasRequestDecorator('user')) fastify.decorateRequest('user', null)
  fastify.decorateRequest('authenticate', function (this: FastifyRequest, username: string, password: string) {
    return authenticate(this, username, password) as Promise<never>
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
  fastify.decorateRequest('requireUser', function (this: FastifyRequest) {
    return requireUser(this) as never
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
  fastify.decorateRequest('changePassword', function (this: FastifyRequest, currentPassword: string, newPassword: string) {
    return changePassword(passwordsOf(this), this, currentPassword, newPassword)
  })
  fastify.decorateRequest('refresh', function (this: FastifyRequest, token?: string) {
    return refresh(this, token)
  })
  fastify.decorateRequest('issuedTokens', function (this: FastifyRequest) {
    return jwt === undefined ? null : jwt.issuedTokens(this)
  })

  fastify.addHook('onRequest', resolveRequestUser(registration))
  if (registration.logins?.full === true) fastify.addHook('onResponse', touchLogin(registration.logins))
  // The dummy hash that failed logins verify against is made before the first request.
  fastify.addHook('onReady', async function makeDummyHash () {
    await passwords.hasher.dummyHash()
  })
  // A reset request still being looked up or mailed is finished, not dropped.
  fastify.addHook('onClose', async function settlePasswordResets () {
    await settled(passwords)
  })
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
