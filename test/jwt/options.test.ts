import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers } from '../helper'
import { JWT_SECRET, rsaKeys } from './helper'

const rsa = rsaKeys()
const OLD_SECRET = 'the-old-jwt-secret-that-is-being-rotated-out'

async function register (t: { teardown: (fn: () => unknown) => void }, options: Record<string, unknown>) {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(auth, { users: new TestUsers(), hashOptions: TEST_HASH_OPTIONS, ...options } as never)
  await app.ready()
  return app
}

t.test('bad jwt options fail registration with a message naming the option', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /`jwt` must be an object/],
    ['a-secret', /`jwt` must be an object/],
    [[JWT_SECRET], /`jwt` must be an object/],
    [{}, /`jwt.secret` is required/],
    [{ secret: 'short' }, /`jwt.secret` must be at least 32 characters/],
    [{ secret: 1234 }, /`jwt.secret` must be a string or Buffer for HS256/],
    [{ secret: '' }, /`jwt.secret` must be a string or Buffer for HS256/],
    [{ secret: JWT_SECRET, algorithm: 'none' }, /`jwt.algorithm` must be one of HS256, .*EdDSA, got "none"/],
    [{ secret: JWT_SECRET, algorithm: 'hs256' }, /`jwt.algorithm` must be one of/],
    [{ secret: JWT_SECRET, algorithm: 'RS256' }, /`jwt.secret` must be `\{ private, public \}` PEM keys for RS256/],
    [{ secret: rsa }, /`jwt.algorithm` is required with a key pair: one of RS256/],
    [{ secret: { private: rsa.private }, algorithm: 'RS256' }, /`jwt.secret.public` must be a PEM public key/],
    [{ secret: { public: rsa.public }, algorithm: 'RS256' }, /`jwt.secret.private` must be a PEM private key/],
    ...[0, -5, 1.5, Infinity, '15', '15 minutes', '', '0m', '1y', `${Number.MAX_SAFE_INTEGER}d`].map(expiresIn =>
      [{ secret: JWT_SECRET, expiresIn }, /`jwt.expiresIn` must be a positive whole number of seconds or a duration like "15m"/] as [unknown, RegExp]),
    ...['', 5, 'k'.repeat(257)].map(kid => [{ secret: JWT_SECRET, kid }, /`jwt.kid` must be a non-empty string/] as [unknown, RegExp]),
    [{ secret: JWT_SECRET, previousKeys: OLD_SECRET }, /`jwt.previousKeys` must be an array/],
    [{ secret: JWT_SECRET, kid: 'b', previousKeys: [null] }, /`jwt.previousKeys\[0\]` must be an object/],
    [{ secret: JWT_SECRET, kid: 'b', previousKeys: [{ kid: 'a', secret: 'short' }] }, /`jwt.previousKeys\[0\].secret` must be at least 32/],
    [{ secret: JWT_SECRET, kid: 'b', previousKeys: [{ kid: 'a', secret: OLD_SECRET, algorithm: 'XX' }] }, /`jwt.previousKeys\[0\].algorithm` must be one of/],
    [{ secret: JWT_SECRET, kid: 'b', previousKeys: [{ kid: 7, secret: OLD_SECRET }] }, /`jwt.previousKeys\[0\].kid` must be a non-empty string/],
    [{ secret: JWT_SECRET, kid: 'b', previousKeys: [{ kid: 'a', algorithm: 'RS256', secret: rsa.public }] }, /`jwt.previousKeys\[0\].secret` must be `\{ private, public \}`/],
    [{ secret: JWT_SECRET, kid: 'a', previousKeys: [{ kid: 'a', secret: OLD_SECRET }] }, /two JWT keys have the kid "a"/],
    [{ secret: JWT_SECRET, previousKeys: [{ secret: OLD_SECRET }] }, /two JWT keys have no kid/],
    [{ secret: JWT_SECRET, cookie: 'token' }, /`jwt.cookie` must be an object/],
    [{ secret: JWT_SECRET, cookie: {} }, /`jwt.cookie.name` must be a valid cookie name/],
    [{ secret: JWT_SECRET, cookie: { name: 'my token' } }, /`jwt.cookie.name` must be a valid cookie name/],
    [{ secret: JWT_SECRET, cookie: { name: 'token', signed: true } }, /`jwt.cookie.signed` is not supported: the token is signed already/],
    [{ secret: JWT_SECRET, cookie: { name: 'token', encode: String } }, /`jwt.cookie.encode` is not supported/],
    [{ secret: JWT_SECRET, cookie: { name: 'token', expires: new Date() } }, /`jwt.cookie.expires` is not supported/],
    [{ secret: JWT_SECRET, cookie: { name: 'token', sameSite: 'sometimes' } }, /`jwt.cookie`: .*sameSite/],
    [{ secret: JWT_SECRET, cookie: { name: 'token', maxAge: 1.5 } }, /`jwt.cookie`: .*maxAge/],
    [{ secret: JWT_SECRET, cookie: { name: 'token', domain: 'bad domain;' } }, /`jwt.cookie`: .*domain/],
    [{ secret: JWT_SECRET, revoke: 'yes' }, /`jwt.revoke` must be a function/],
    [{ secret: JWT_SECRET, isRevoked: true }, /`jwt.isRevoked` must be a function/],
    [{ secret: JWT_SECRET, revoke: () => {} }, /`jwt.revoke` needs `jwt.isRevoked`/],
    [{ secret: JWT_SECRET, storeTimeout: 0 }, /`jwt.storeTimeout` must be a positive integer/],
    ...[-1, 1.5, '1000', true].map(cacheSize => [{ secret: JWT_SECRET, cacheSize }, /`jwt.cacheSize` must be a whole number/] as [unknown, RegExp]),
    [{ secret: JWT_SECRET, expiresin: '1h' }, /`jwt.expiresin` is not an option/],
    [{ secret: JWT_SECRET, sign: { algorithm: 'none' } }, /`jwt.sign` is not an option/]
  ]
  for (const [jwt, message] of cases) {
    await t.rejects(register(t, { session: { secret: SECRET }, jwt }), { code: 'FST_AUTH_INVALID_OPTION', message }, message.source)
  }
})

t.test('the jwt cookie may not take the session cookie\'s name', async t => {
  const session = { secret: SECRET }
  await t.rejects(register(t, { session, jwt: { secret: JWT_SECRET, cookie: { name: 'sessionId' } } }),
    { message: /`jwt.cookie.name` "sessionId" is the session cookie's name/ })
  await t.rejects(register(t, { session: { ...session, cookieName: 'sid' }, jwt: { secret: JWT_SECRET, cookie: { name: 'sid' } } }),
    { message: /`jwt.cookie.name` "sid" is the session cookie's name/ })
  const app = await register(t, { session: { ...session, cookieName: 'sid' }, jwt: { secret: JWT_SECRET, cookie: { name: 'sessionId' } } })
  t.ok(app.hasDecorator('setDefaultAuthBackend'))
})

t.test('authHashSecret is needed when neither session.secret nor jwt.secret is a string', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET })
  app.register(auth, { users: new TestUsers() } as never)
  await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /`authHashSecret` \(32\+ characters\) is required when neither `session.secret` nor `jwt.secret` is a string/ })
})

t.test('defaultBackend "jwt" needs the jwt option', async t => {
  await t.rejects(register(t, { defaultBackend: 'jwt', session: { secret: SECRET } }),
    { code: 'FST_AUTH_INVALID_OPTION', message: /`defaultBackend: "jwt"` needs the `jwt` option/ })
})

t.test('the smallest jwt configuration registers and keeps @fastify/jwt out of the app\'s scope', async t => {
  const app = await register(t, { defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })
  t.equal(app.hasDecorator('jwt'), false, 'no fastify.jwt')
  t.equal(app.hasRequestDecorator('jwtVerify'), false)
  t.equal(app.hasReplyDecorator('jwtSign'), false)
  t.equal(app.hasRequestDecorator('cookies'), false, 'no @fastify/cookie without jwt.cookie')
  t.equal(app.hasRequestDecorator('session'), false)
})
