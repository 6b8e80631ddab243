import Fastify from 'fastify'
import fastifyJwt from '@fastify/jwt'
import { expect, test } from 'tstyche'
import auth, { getUserFromJwt, getUserId, type JwtClaims, type UserId } from 'fastify-auth-helpers'

interface ApiUser { id: string, name: string }
interface AppTokenPayload { scope: 'reports' | 'admin' }

declare module 'fastify-auth-helpers' {
  interface FastifyAuthHelpers { user: ApiUser }
}
// The app's own tokens: it declares their payload, never `user`, which is the user this plugin resolves.
declare module '@fastify/jwt' {
  interface FastifyJWT { payload: AppTokenPayload }
}

const app = Fastify()
const users = { findByUsername: async () => null, findById: async (id: UserId) => ({ id: String(id), name: 'x' }) }

test('an app registering @fastify/jwt itself type-checks beside the plugin', () => {
  expect(app.register(fastifyJwt, { secret: 'the-apps-own-secret' })).type.not.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32) } })).type.not.toRaiseError()
  app.get('/', async (request, reply) => {
    expect(request.user).type.toBe<ApiUser | null>()
    expect(await request.jwtVerify<AppTokenPayload>()).type.toBe<AppTokenPayload>()
    expect(app.jwt.sign({ scope: 'admin' })).type.toBe<string>()
    expect(app.jwt.sign({ scope: 'root' })).type.toRaiseError()
    expect(await reply.jwtSign({ scope: 'reports' })).type.toBe<string>()
    expect(await request.login({ user: { id: 'u1', name: 'n' }, backend: 'jwt' })).type.toBe<string | undefined>()
    expect(await getUserFromJwt(request)).type.toBe<ApiUser | null>()
    expect(getUserId(request, 'jwt')).type.toBe<UserId | null>()
  })
})

test('jwt options: an HMAC secret, or a key pair with its algorithm', () => {
  expect(app.register(auth, { users, jwt: { secret: Buffer.from('x'.repeat(32)), algorithm: 'HS512', expiresIn: 600 } })).type.not.toRaiseError()
  expect(app.register(auth, { users, authHashSecret: 'y'.repeat(32), jwt: { secret: { private: 'pem', public: 'pem' }, algorithm: 'EdDSA', kid: 'k2' } }))
    .type.not.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: { private: 'pem', public: 'pem' } } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), algorithm: 'RS256' } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), algorithm: 'none' } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { expiresIn: '15m' } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), expiresIn: true } })).type.toRaiseError()
})

test('jwt options: rotation, cookie and revocation hooks', () => {
  expect(app.register(auth, {
    users,
    authHashSecret: 'y'.repeat(32),
    jwt: {
      secret: 'x'.repeat(32),
      kid: '2025-11',
      previousKeys: [{ kid: '2025-10', secret: 'z'.repeat(32) }, { kid: 'rsa', algorithm: 'RS256', secret: { public: 'pem' } }],
      cookie: { name: 'token', secure: 'auto', sameSite: 'strict', maxAge: 60 },
      revoke: async (claims) => { expect(claims).type.toBe<JwtClaims>() },
      isRevoked: async (claims) => claims.jti === 'x' && claims.exp > claims.iat,
      storeTimeout: 1000,
      cacheSize: 0
    }
  })).type.not.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), previousKeys: [{ kid: 'rsa', secret: { public: 'pem' } }] } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), cookie: { path: '/' } } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), cookie: { name: 't', signed: true } } })).type.toRaiseError()
  expect(app.register(auth, { users, jwt: { secret: 'x'.repeat(32), isRevoked: async () => 'no' } })).type.toRaiseError()
  expect<JwtClaims['_auth_user_id']>().type.toBe<UserId>()
})
