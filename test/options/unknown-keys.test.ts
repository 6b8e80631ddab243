import t from 'tap'
import Fastify from 'fastify'
import auth from '../../lib/index'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { SECRET, TEST_HASH_OPTIONS, TestUsers } from '../helper'

const JWT_SECRET = 'a-jwt-secret-for-the-option-tests-32chars'
const base = { users: new TestUsers(), hashOptions: TEST_HASH_OPTIONS, session: { secret: SECRET } }

async function registration (options: Record<string, unknown>): Promise<unknown> {
  const app = Fastify()
  try {
    await app.register(auth, options as never)
    await app.ready()
    return undefined
  } catch (err) {
    return err
  } finally {
    await app.close()
  }
}

t.test('a misspelt option is refused at every level, naming the option it was probably meant as', async t => {
  const jwt = { secret: JWT_SECRET }
  const cases: Array<[string, Record<string, unknown>, string]> = [
    ['maxPaswordLength', { ...base, maxPaswordLength: 64 }, '`maxPaswordLength` is not an option: did you mean `maxPasswordLength`?'],
    ['sesion', { users: base.users, hashOptions: TEST_HASH_OPTIONS, authHashSecret: SECRET, jwt, defaultBackend: 'jwt', sesion: {} }, '`sesion` is not an option: did you mean `session`?'],
    ['session.cookeName', { ...base, session: { secret: SECRET, cookeName: 'sid' } }, '`session.cookeName` is not an option: did you mean `cookieName`?'],
    ['session.cookie.sameSit', { ...base, session: { secret: SECRET, cookie: { sameSit: 'strict' } } }, '`session.cookie.sameSit` is not an option: did you mean `sameSite`?'],
    ['jwt.expiresin', { ...base, jwt: { ...jwt, expiresin: '5m' } }, '`jwt.expiresin` is not an option: did you mean `expiresIn`?'],
    ['jwt.cookie.nmae', { ...base, jwt: { ...jwt, cookie: { name: 'token', pth: '/' } } }, '`jwt.cookie.pth` is not an option: did you mean `path`?'],
    ['jwt.previousKeys[0].secrt', { ...base, authHashSecret: SECRET, jwt: { ...jwt, kid: 'b', previousKeys: [{ kid: 'a', secrt: JWT_SECRET }] } }, '`jwt.previousKeys[0].secrt` is not an option: did you mean `secret`?'],
    ['jwt.refresh.onreuse', { ...base, loginStore: createMemoryLoginStore(), jwt: { ...jwt, refresh: { onreuse: () => {} } } }, '`jwt.refresh.onreuse` is not an option: did you mean `onReuse`?'],
    ['jwt.refresh.cookie.pat', { ...base, loginStore: createMemoryLoginStore(), jwt: { ...jwt, refresh: { cookie: { name: 'refresh', path: '/r', secur: false } } } }, '`jwt.refresh.cookie.secur` is not an option: did you mean `secure`?'],
    ['logins.maxage', { ...base, logins: { maxage: 1000 } }, '`logins.maxage` is not an option: did you mean `maxAge`?'],
    ['hashOptions.memorycost', { ...base, hashOptions: { ...TEST_HASH_OPTIONS, memorycost: 9216 } }, '`hashOptions.memorycost` is not an option: did you mean `memoryCost`?'],
    ['userTokens.secrets', { ...base, userTokens: { secrets: SECRET } }, '`userTokens.secrets` is not an option: did you mean `secret`?']
  ]
  for (const [name, options, message] of cases) {
    const error = await registration(options) as { code?: string, message?: string } | undefined
    t.equal(error?.code, 'FST_AUTH_INVALID_OPTION', name)
    t.equal(error?.message, `fastify-auth-helpers: ${message}`, name)
  }
})

t.test('a key like no option lists the options of its level', async t => {
  const error = await registration({ ...base, logins: { sessionLength: 1 } }) as Error
  t.equal(error.message, 'fastify-auth-helpers: `logins.sessionLength` is not an option: the options are maxAge, browserSessionMaxAge, idleTimeout, touchInterval')
})

t.test("the app's own objects keep their other methods, and Fastify's register options pass", async t => {
  class Users extends TestUsers {
    countUsers (): number { return this.byId.size }
  }
  const store = Object.assign(createMemoryLoginStore(), { close: () => {} })
  t.equal(await registration({ ...base, users: new Users(), loginStore: store, prefix: '/auth', logLevel: 'warn' }), undefined)
})

t.test('options that are not an object of options are refused', async t => {
  t.equal((await registration([] as never) as Error).message, 'fastify-auth-helpers: the options must be an object with at least `users`')
  for (const [name, options, message] of [
    ['session', { ...base, session: 'secret' }, '`session` must be an object of @fastify/session options'],
    ['session.cookie', { ...base, session: { secret: SECRET, cookie: true } }, '`session.cookie` must be an object of cookie options'],
    ['logins', { ...base, logins: [] }, '`logins` must be an object of login lifetimes'],
    ['jwt.previousKeys[0]', { ...base, authHashSecret: SECRET, jwt: { secret: JWT_SECRET, previousKeys: ['old'] } }, '`jwt.previousKeys[0]` must be an object `{ kid, secret, algorithm }`'],
    ['loginStore.swap', { ...base, loginStore: { ...createMemoryLoginStore(), swap: 'yes' } }, '`loginStore.swap` must be a function'],
    ['session.store', { ...base, session: { secret: SECRET, store: {} } }, '`session.store` must be an express-session compatible store, with get, set and destroy'],
    ['session.algorithm', { ...base, session: { secret: SECRET, algorithm: 256 } }, '`session.algorithm` must be a string'],
    ['session.cookieName', { ...base, session: { secret: SECRET, cookieName: 1 } }, '`session.cookieName` must be a string'],
    ['session.cookiePrefix', { ...base, session: { secret: SECRET, cookiePrefix: null } }, '`session.cookiePrefix` must be a string'],
    ['session.idGenerator', { ...base, session: { secret: SECRET, idGenerator: 'uuid' } }, '`session.idGenerator` must be a function']
  ] as Array<[string, Record<string, unknown>, string]>) {
    const error = await registration(options) as { code?: string, message?: string } | undefined
    t.equal(error?.code, 'FST_AUTH_INVALID_OPTION', name)
    t.equal(error?.message, `fastify-auth-helpers: ${message}`, name)
  }
})
