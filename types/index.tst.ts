import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import auth, {
  AuthenticationError, BACKEND_KEY, SUPPORTED_BACKENDS, USER_ID_KEY, authenticate, getUserFromSession, getUserId, login, logout,
  type BackendName, type UserId
} from 'fastify-auth-helpers'

interface AppUser { id: number, email: string, passwordHash: string }

declare module 'fastify-auth-helpers' {
  interface FastifyAuthHelpers { user: AppUser }
}

const app = Fastify()
declare const request: FastifyRequest
declare const appUser: AppUser

test('registration takes the documented options', () => {
  expect(app.register(auth, {
    users: { findByUsername: async () => appUser, findById: async () => null },
    session: { secret: 'x'.repeat(32), cookie: { secure: 'auto' } },
    getPasswordHash: user => user.passwordHash
  })).type.not.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: async () => appUser, findById: async () => null }, defaultBackend: 'jwt' }))
    .type.not.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: async () => appUser, findById: async () => null }, defaultBackend: 'cookie' }))
    .type.toRaiseError()
  expect(app.register(auth, { session: { secret: 'x'.repeat(32) } })).type.toRaiseError()
})

test('maxQueuedHashes is a number', () => {
  const users = { findByUsername: async () => appUser, findById: async () => null }
  expect(app.register(auth, { users, session: { secret: 'x'.repeat(32) }, maxQueuedHashes: 50 })).type.not.toRaiseError()
  expect(app.register(auth, { users, session: { secret: 'x'.repeat(32) }, maxQueuedHashes: '50' })).type.toRaiseError()
  expect(app.register(auth, { users, session: { secret: 'x'.repeat(32) }, maxQueuedHashes: null })).type.toRaiseError()
  expect(app.register(auth, { users, session: { secret: 'x'.repeat(32), cacheSize: 0, storeTimeout: 2000 } })).type.not.toRaiseError()
  expect(app.register(auth, { users, session: { secret: 'x'.repeat(32), cacheSize: '100' } })).type.toRaiseError()
})

test('request.user is the declared user type, never any', () => {
  expect(request.user).type.toBe<AppUser | null>()
  expect(request.authenticate('a', 'b')).type.toBe<Promise<AppUser>>()
  expect(authenticate(request, 'a', 'b')).type.toBe<Promise<AppUser>>()
  expect(getUserFromSession(request)).type.toBe<Promise<AppUser | null>>()
})

test('login takes { user } or { userId } with an optional backend', () => {
  expect(request.login({ user: appUser })).type.toBe<Promise<string | undefined>>()
  expect(request.login({ userId: 1, backend: 'jwt' })).type.not.toRaiseError()
  expect(login(request, { userId: 'abc', backend: 'session' })).type.not.toRaiseError()
  expect(request.login({ user: appUser, userId: 1 })).type.toRaiseError()
  expect(request.login({})).type.toRaiseError()
  expect(request.login({ userId: 1, backend: 'ldap' })).type.toRaiseError()
  expect(request.login({ userId: { id: 1 } })).type.toRaiseError()
})

test('logout, getUserId and the instance decorators', () => {
  expect(request.logout()).type.toBe<Promise<void>>()
  expect(logout(request, { backend: 'jwt' })).type.toBe<Promise<void>>()
  expect(request.logout({ backend: 'redis' })).type.toRaiseError()
  expect(request.getUserId()).type.toBe<UserId | null>()
  expect(getUserId(request, 'session')).type.toBe<UserId | null>()
  expect(app.setDefaultAuthBackend('jwt')).type.toBe<void>()
  expect(app.setDefaultAuthBackend('ldap')).type.toRaiseError()
  expect(app.hashPassword('pw')).type.toBe<Promise<string>>()
})

test('the constants and the error class', () => {
  expect(USER_ID_KEY).type.toBe<'_auth_user_id'>()
  expect(BACKEND_KEY).type.toBe<'_auth_backend'>()
  expect(SUPPORTED_BACKENDS).type.toBe<readonly ['session', 'jwt']>()
  expect<BackendName>().type.toBe<'session' | 'jwt'>()
  const error = new AuthenticationError()
  expect(error.statusCode).type.toBe<401>()
  expect(error.code).type.toBe<'FST_AUTH_AUTHENTICATION_FAILED'>()
})
