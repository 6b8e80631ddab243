import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import auth, {
  AuthenticationError, BACKEND_KEY, SUPPORTED_BACKENDS, USER_ID_KEY, authenticate, getUserFromSession, getUserId, login, logout,
  requireUser, type BackendName, type UserId, type UserStore
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

test('request.requireUser() is the declared user, never null, in a route behind app.requireUser', () => {
  expect(request.requireUser()).type.toBe<AppUser>()
  expect(requireUser(request)).type.toBe<AppUser>()
  app.get('/me', { preHandler: app.requireUser }, async (request) => {
    const user = request.requireUser()
    expect(user.email).type.toBe<string>()
    expect(user.name).type.toRaiseError()
    expect(request.user.email).type.toRaiseError() // still `| null` without the accessor
    return user.email
  })
  expect(request.requireUser(1)).type.toRaiseError()
})

test('a UserStore<AppUser> of the declared user registers, with promises or plain values', () => {
  const session = { secret: 'x'.repeat(32) }
  const asyncStore: UserStore<AppUser> = { findByUsername: async () => appUser, findById: async () => null }
  expect(app.register(auth, { users: asyncStore, session })).type.not.toRaiseError()
  const byId = new Map<UserId, AppUser>()
  const syncStore: UserStore<AppUser> = {
    findByUsername: (email) => [...byId.values()].find(user => user.email === email),
    findById: (id) => byId.get(id),
    updatePasswordHash: (user, hash) => { user.passwordHash = hash }
  }
  expect(app.register(auth, { users: syncStore, session, getPasswordHash: user => user.passwordHash })).type.not.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: () => appUser, findById: () => undefined }, session })).type.not.toRaiseError()
  // A thenable (a query builder) is awaited like a promise.
  const thenable: PromiseLike<AppUser | null> = { then: (resolve) => Promise.resolve(null).then(resolve) }
  expect(app.register(auth, { users: { findByUsername: () => thenable, findById: () => thenable }, session })).type.not.toRaiseError()
})

test('a store of another user than the declared one is refused, and so are ids JSON cannot hold', () => {
  interface OtherUser { id: string, name: string }
  const session = { secret: 'x'.repeat(32) }
  const other: UserStore<OtherUser> = { findByUsername: async () => null, findById: async () => null }
  expect(app.register(auth, { users: other, session })).type.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: async () => ({ id: 1 }), findById: async () => null }, session })).type.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: () => 'ann', findById: () => null }, session })).type.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: async () => appUser }, session })).type.toRaiseError()
  expect(app.register(auth, { users: asyncStoreOf(appUser), session, getPasswordHash: user => user.password })).type.toRaiseError()
  expect(request.login({ user: { id: 'o', name: 'other' } })).type.toRaiseError()
  expect(request.login({ userId: 2n ** 64n })).type.toRaiseError()
})

function asyncStoreOf (user: AppUser): UserStore<AppUser> {
  return { findByUsername: async () => user, findById: async () => user }
}
