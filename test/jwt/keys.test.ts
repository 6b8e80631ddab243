import t from 'tap'
import Fastify from 'fastify'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers } from '../helper'
import { JWT_SECRET, bearer, buildJwt, decodeSegment, ecKeys, edKeys, rsaKeys, tokenFor, whoami } from './helper'

const rsa = rsaKeys()
const otherRsa = rsaKeys()
const ec256 = ecKeys('P-256')
const ec384 = ecKeys('P-384')
const ec521 = ecKeys('P-521')
const ed = edKeys()
const OLD_SECRET = 'the-old-jwt-secret-that-is-being-rotated-out'

t.test('every supported algorithm signs and verifies its own tokens', async t => {
  const cases: Array<[string, unknown]> = [
    ['HS256', JWT_SECRET], ['HS384', JWT_SECRET], ['HS512', Buffer.from(JWT_SECRET)],
    ['RS256', rsa], ['RS384', rsa], ['RS512', rsa], ['PS256', rsa], ['PS384', rsa], ['PS512', rsa],
    ['ES256', ec256], ['ES384', ec384], ['ES512', ec521], ['EdDSA', ed]
  ]
  for (const [algorithm, secret] of cases) {
    const { app } = await buildJwt(t, { algorithm, secret }, { plugin: { authHashSecret: SECRET } })
    const token = await tokenFor(app)
    t.equal(decodeSegment(token, 0).alg, algorithm)
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, algorithm)
  }
})

t.test('keys that do not suit their algorithm, or do not make a pair, fail at registration', async t => {
  const cases: Array<[Record<string, unknown>, RegExp]> = [
    [{ algorithm: 'RS256', secret: ec256 }, /`jwt.secret` does not suit the algorithm RS256/],
    [{ algorithm: 'ES256', secret: rsa }, /`jwt.secret` does not suit the algorithm ES256/],
    [{ algorithm: 'ES256', secret: ec384 }, /`jwt.secret` does not suit the algorithm ES256/],
    [{ algorithm: 'RS256', secret: { private: rsa.private, public: 'not a pem' } }, /`jwt.secret` does not suit/],
    [{ algorithm: 'RS256', secret: { private: rsa.private, public: otherRsa.public } }, /`jwt.secret.private` and `jwt.secret.public` are not a key pair/],
    [{ algorithm: 'HS256', secret: rsa.public }, /`jwt.secret` is a PEM key, not a secret/],
    [{ algorithm: 'HS512', secret: Buffer.from(rsa.private) }, /`jwt.secret` is a PEM key, not a secret/],
    [{ secret: JWT_SECRET, kid: 'new', previousKeys: [{ kid: 'old', algorithm: 'RS256', secret: { public: ec256.public } }] }, /`jwt.previousKeys\[0\].secret` does not suit the algorithm RS256/]
  ]
  for (const [jwt, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    app.register(auth, { users: new TestUsers(), authHashSecret: SECRET, jwt } as never)
    await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message }, message.source)
  }
})

t.test('an RS256 app refuses HS256 tokens made with its public key, and tokens of another key pair', async t => {
  const { app } = await buildJwt(t, { algorithm: 'RS256', secret: rsa }, { plugin: { authHashSecret: SECRET } })
  const { app: other } = await buildJwt(t, { algorithm: 'RS256', secret: otherRsa }, { plugin: { authHashSecret: SECRET } })
  const foreign = await tokenFor(other)
  t.same(await whoami(other, bearer(foreign)), { status: 200, id: 1 })
  t.same(await whoami(app, bearer(foreign)), { status: 200, id: null })
})

t.test('key rotation: tokens name their key by kid, and previous keys keep verifying until removed', async t => {
  const users = new TestUsers()
  const plugin = { authHashSecret: SECRET }
  const { app: before } = await buildJwt(t, { secret: OLD_SECRET }, { users, plugin })
  const { app: kidded } = await buildJwt(t, { secret: OLD_SECRET, kid: '2025-10' }, { users, plugin })
  const { app: rotated } = await buildJwt(t, {
    secret: JWT_SECRET,
    kid: '2025-11',
    previousKeys: [{ kid: '2025-10', secret: OLD_SECRET }, { secret: OLD_SECRET }]
  }, { users, plugin })
  const { app: after } = await buildJwt(t, { secret: JWT_SECRET, kid: '2025-11' }, { users, plugin })

  const unnamed = await tokenFor(before)
  const old = await tokenFor(kidded)
  const fresh = await tokenFor(rotated)
  t.same(decodeSegment(unnamed, 0), { alg: 'HS256', typ: 'JWT' })
  t.same(decodeSegment(old, 0), { alg: 'HS256', typ: 'JWT', kid: '2025-10' })
  t.same(decodeSegment(fresh, 0), { alg: 'HS256', typ: 'JWT', kid: '2025-11' }, 'new tokens use the current key')
  t.same(await whoami(rotated, bearer(old)), { status: 200, id: 1 }, 'a previous key verifies its tokens')
  t.same(await whoami(rotated, bearer(unnamed)), { status: 200, id: 1 }, 'a previous key without kid verifies tokens without one')
  t.same(await whoami(rotated, bearer(fresh)), { status: 200, id: 1 })
  t.same(await whoami(after, bearer(fresh)), { status: 200, id: 1 })
  t.same(await whoami(after, bearer(old)), { status: 200, id: null }, 'a removed key verifies nothing')
  t.same(await whoami(kidded, bearer(unnamed)), { status: 200, id: null }, 'the kid must name the key, even with one key')
  t.same(await whoami(before, bearer(old)), { status: 200, id: null }, 'a kid where the key has none is refused')
})

t.test('rotation across algorithms: a previous public key verifies, and never signs', async t => {
  const users = new TestUsers()
  const plugin = { authHashSecret: SECRET }
  const { app: before } = await buildJwt(t, { algorithm: 'RS256', secret: rsa, kid: 'rsa' }, { users, plugin })
  const { app: rotated } = await buildJwt(t, {
    algorithm: 'EdDSA',
    secret: ed,
    kid: 'ed',
    previousKeys: [{ kid: 'rsa', algorithm: 'RS256', secret: { public: rsa.public } }]
  }, { users, plugin })
  const old = await tokenFor(before)
  t.same(await whoami(rotated, bearer(old)), { status: 200, id: 1 })
  t.equal(decodeSegment(await tokenFor(rotated), 0).alg, 'EdDSA')
})

t.test('previousKeys need an auth hash key that does not rotate with jwt.secret', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(auth, {
    users: new TestUsers(),
    hashOptions: TEST_HASH_OPTIONS,
    jwt: { secret: JWT_SECRET, kid: 'b', previousKeys: [{ kid: 'a', secret: OLD_SECRET }] }
  } as never)
  await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /`jwt.previousKeys` needs `authHashSecret`/ })

  const keyPair = Fastify()
  t.teardown(() => keyPair.close())
  keyPair.register(auth, { users: new TestUsers(), defaultBackend: 'jwt', jwt: { algorithm: 'ES256', secret: ec256 } } as never)
  await t.rejects(keyPair.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /`authHashSecret`.*`jwt.secret` is a string/ },
    'a key pair cannot key the auth hash')
})
