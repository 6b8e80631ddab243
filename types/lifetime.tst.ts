import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import { createClient } from 'redis'
import auth, { createRedisLoginStore, reauthenticate, type LoginStore } from 'fastify-auth-helpers'

const app = Fastify()
declare const request: FastifyRequest
const users = { findByUsername: async () => null, findById: async () => null }

test('login takes remember as a boolean', () => {
  expect(request.login({ userId: 1, remember: true })).type.not.toRaiseError()
  expect(request.login({ userId: 1, remember: false, backend: 'jwt' })).type.not.toRaiseError()
  expect(request.login({ userId: 1, remember: 'yes' })).type.toRaiseError()
})

test('the lifetime options, the clock and the login store', () => {
  expect(app.register(auth, {
    users,
    session: { secret: 'x'.repeat(32) },
    logins: { maxAge: 1000, browserSessionMaxAge: 500, idleTimeout: 0, touchInterval: 60_000 },
    now: () => 0
  })).type.not.toRaiseError()
  expect(app.register(auth, { users, logins: { maxAge: '14d' } })).type.toRaiseError()
  expect(app.register(auth, { users, logins: { ttl: 5 } })).type.toRaiseError()
  expect(app.register(auth, { users, now: Date })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore: createRedisLoginStore(createClient()) })).type.not.toRaiseError()
  expect(app.register(auth, { users, loginStore: { get: () => null } })).type.toRaiseError()
  expect(createRedisLoginStore(createClient(), { prefix: 'app:' })).type.toBe<LoginStore>()
  expect(createRedisLoginStore({})).type.toRaiseError()
})

test('requireRecentLogin and reauthenticate', () => {
  expect(app.register(async (app) => {
    app.post('/sudo', { preHandler: [app.requireUser, app.requireRecentLogin(60_000)] }, async () => ({}))
  })).type.not.toRaiseError()
  expect(app.requireRecentLogin('5m')).type.toRaiseError()
  expect(request.reauthenticate('pw')).type.toBe<Promise<void>>()
  expect(reauthenticate(request, 'pw')).type.toBe<Promise<void>>()
  expect(request.reauthenticate()).type.toRaiseError()
})
