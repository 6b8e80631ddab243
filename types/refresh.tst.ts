import Fastify, { type FastifyRequest } from 'fastify'
import { expect, test } from 'tstyche'
import auth, {
  createMemoryLoginStore, createRedisLoginStore, refresh, type LoginRecord, type RefreshedTokens, type RefreshReuseEvent
} from 'fastify-auth-helpers'

const app = Fastify()
declare const request: FastifyRequest
const users = { findByUsername: async () => null, findById: async () => null }
declare const redis: { hGetAll (key: string): Promise<Record<string, string>>, eval (script: string, options: { keys: string[], arguments: string[] }): Promise<unknown> }

test('jwt.refresh: true, or { expiresIn, cookie, onReuse }', () => {
  const loginStore = createMemoryLoginStore()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: true } })).type.not.toRaiseError()
  expect(app.register(auth, {
    users,
    loginStore: createRedisLoginStore(redis),
    jwt: {
      secret: 'x'.repeat(32),
      refresh: {
        expiresIn: '14d',
        cookie: { name: 'refresh', path: '/auth/refresh', secure: false, domain: 'example.com' },
        onReuse: (event) => { expect(event).type.toBe<RefreshReuseEvent>() }
      }
    }
  })).type.not.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { expiresIn: 3600 } } })).type.not.toRaiseError()
})

test('what jwt.refresh refuses', () => {
  const loginStore = createMemoryLoginStore()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: 'yes' } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { grace: 5 } } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { expiresIn: true } } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { cookie: { name: 'r' } } } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { cookie: { name: 'r', path: '/r', httpOnly: false } } } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { cookie: { name: 'r', path: '/r', sameSite: 'lax' } } } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { cookie: { name: 'r', path: '/r', maxAge: 60 } } } })).type.toRaiseError()
  expect(app.register(auth, { users, loginStore, jwt: { secret: 'x'.repeat(32), refresh: { onReuse: 'alert' } } })).type.toRaiseError()
})

test('request.refresh and request.issuedTokens', () => {
  expect(request.refresh()).type.toBe<Promise<RefreshedTokens>>()
  expect(request.refresh('token')).type.toBe<Promise<RefreshedTokens>>()
  expect(refresh(request, 'token')).type.toBe<Promise<RefreshedTokens>>()
  expect(request.refresh(42)).type.toRaiseError()
  expect(request.refresh({ refreshToken: 'x' })).type.toRaiseError()
  expect(request.issuedTokens()).type.toBe<RefreshedTokens | null>()
  expect<RefreshedTokens>().type.toBe<{ accessToken: string, refreshToken: string }>()
  expect(request.login({ userId: 1, backend: 'jwt' })).type.toBe<Promise<string | undefined>>()
})

test('the login stores that refresh needs have swap', () => {
  expect(createMemoryLoginStore().swap).type.toBe<(key: string, field: keyof LoginRecord, expected: unknown, fields: Partial<LoginRecord>, expiresAt: number) => Promise<boolean>>()
  expect(createMemoryLoginStore({ now: () => 0 })).type.not.toRaiseError()
  expect(createMemoryLoginStore({ now: 0 })).type.toRaiseError()
})
