import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import auth, {
  createRedisLoginStore, endLogin, endOtherLogins, listLogins,
  type LoginEndedEvent, type LoginEndReason, type LoginInfo, type LoginStore, type UserId
} from 'fastify-auth-helpers'

const app = Fastify()
declare const request: FastifyRequest
declare const store: LoginStore
const users = { findByUsername: async () => null, findById: async () => null }

test('request.listLogins, endLogin, endOtherLogins and the functions that are the same code', () => {
  expect(request.listLogins()).type.toBe<Promise<LoginInfo[]>>()
  expect(listLogins(request)).type.toBe<Promise<LoginInfo[]>>()
  expect(request.endLogin('id')).type.toBe<Promise<boolean>>()
  expect(endLogin(request, 'id')).type.toBe<Promise<boolean>>()
  expect(request.endOtherLogins()).type.toBe<Promise<number>>()
  expect(endOtherLogins(request)).type.toBe<Promise<number>>()
  expect(request.listLogins('someone')).type.toRaiseError()
  expect(request.endLogin()).type.toRaiseError()
  expect(request.endLogin(42)).type.toRaiseError()
  expect(request.endOtherLogins('keep')).type.toRaiseError()
})

test('app.listLogins and app.endLogins take a user id', () => {
  expect(app.listLogins(1)).type.toBe<Promise<LoginInfo[]>>()
  expect(app.listLogins('u1')).type.toBe<Promise<LoginInfo[]>>()
  expect(app.endLogins(1)).type.toBe<Promise<number>>()
  expect(app.endLogins()).type.toRaiseError()
  expect(app.endLogins({ id: 1 })).type.toRaiseError()
  expect(app.listLogins(null)).type.toRaiseError()
})

test('LoginInfo has exactly the fields of API.md, and no credential', () => {
  expect<LoginInfo>().type.toBe<{
    id: string
    backend: 'session' | 'jwt'
    createdAt: Date
    lastSeenAt: Date
    expiresAt: Date | null
    userAgent: string | null
    ip: string | null
    current: boolean
  }>()
  expect<LoginInfo>().type.not.toHaveProperty('sessionId')
  expect<LoginInfo>().type.not.toHaveProperty('handle')
})

test('onLoginEnded gets the reason; loginStore takes a LoginStore', () => {
  expect<LoginEndReason>().type.toBe<'logout' | 'ended' | 'ended-others' | 'ended-all' | 'expired' | 'reused'>()
  expect<LoginEndedEvent['request']>().type.toBe<FastifyRequest | null>()
  expect<LoginEndedEvent['userId']>().type.toBe<UserId>()
  expect(app.register(auth, {
    users,
    loginStore: store,
    onLoginEnded: (event) => { expect(event.reason).type.toBe<LoginEndReason>() }
  })).type.not.toRaiseError()
  expect(app.register(auth, { users, onLoginEnded: 'log' })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore: { get: () => null } })).type.toRaiseError()
  expect(createRedisLoginStore({ hGetAll: async () => ({}), eval: async () => 1 })).type.toBe<LoginStore>()
  expect(createRedisLoginStore({ get: async () => null })).type.toRaiseError()
})
