import Fastify from 'fastify'
import { expect, test } from 'tstyche'
import auth, { requireUser, type UnknownUser, type UserId, type UserStore } from 'fastify-auth-helpers'

// Its own project: no `FastifyAuthHelpers` user is declared here, as in an app that has not declared one yet.
interface DbUser { id: string, email: string, passwordHash: string }
class Account { constructor (readonly id: number, readonly email: string) {} }

const app = Fastify()
const session = { secret: 'x'.repeat(32) }

test('a UserStore<DbUser> registers without a declared user, for interfaces and classes alike', () => {
  const store: UserStore<DbUser> = { findByUsername: async () => null, findById: async () => null }
  expect(app.register(auth, { users: store, session })).type.not.toRaiseError()
  const accounts = new Map<UserId, Account>()
  const classes: UserStore<Account> = { findByUsername: () => undefined, findById: (id) => accounts.get(id) }
  expect(app.register(auth, { users: classes, session })).type.not.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: () => new Account(1, 'a'), findById: () => null }, session })).type.not.toRaiseError()
})

test('without a declared user, users are objects of unknown fields, and a store must still give objects', () => {
  app.get('/', { preHandler: app.requireUser }, async (request) => {
    expect(request.user).type.toBe<UnknownUser | null>()
    expect(request.requireUser()).type.toBe<UnknownUser>()
    expect(requireUser(request).email).type.toBe<unknown>()
    expect(request.login({ user: new Account(1, 'a') })).type.not.toRaiseError()
    expect(request.login({ user: 'ann' })).type.toRaiseError()
  })
  expect(app.register(auth, { users: { findByUsername: async () => 42, findById: async () => null }, session })).type.toRaiseError()
  expect(app.register(auth, { users: { findByUsername: async () => null }, session })).type.toRaiseError()
  expect(app.register(auth, {
    users: { findByUsername: async () => null, findById: async () => null },
    session,
    getPasswordHash: user => { expect(user).type.toBe<UnknownUser>(); return user.passwordHash }
  })).type.not.toRaiseError()
})
