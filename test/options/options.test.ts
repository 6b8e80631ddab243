import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, build, hashOf, loginAs } from '../helper'
import { JWT_SECRET } from '../jwt/helper'

const users = new TestUsers()
const session = { secret: SECRET }

async function registerError (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  try {
    await app.register(auth, options as never)
    await app.ready()
  } catch (err) {
    return err as Error & { code?: string }
  } finally {
    await app.close()
  }
  throw new Error('registration succeeded')
}

t.test('bad options fail registration with a message that names the option', async t => {
  const cases: Array<[string, unknown, RegExp]> = [
    ['no users', { session }, /`users` option/],
    ['users without findByUsername', { users: { findById: users.findById }, session }, /users\.findByUsername/],
    ['users without findById', { users: { findByUsername: users.findByUsername }, session }, /users\.findById/],
    ['updatePasswordHash not a function', { users: { ...users, updatePasswordHash: 1 }, session }, /users\.updatePasswordHash/],
    ['isActive not a function', { users, session, isActive: true }, /`isActive` must be a function/],
    ['short session secret', { users, session: { secret: 'short' } }, /session\.secret.*32/],
    ['session not an object', { users, session: 'x' }, /`session` must be an object/],
    ['unsupported defaultBackend', { users, session, defaultBackend: 'ldap' }, /defaultBackend.*"ldap"/],
    ['jwt default without jwt options', { users, session, defaultBackend: 'jwt' }, /needs the `jwt` option/],
    ['jwt not an object', { users, session, jwt: 'x' }, /`jwt` must be an object/],
    ['short authHashSecret', { users, session, authHashSecret: 'short' }, /authHashSecret/],
    ['bad hashOptions', { users, session, hashOptions: { memoryCost: -1 } }, /hashOptions\.memoryCost/],
    ['hashOptions not an object', { users, session, hashOptions: 1 }, /`hashOptions` must be an object/],
    ['bad maxPasswordLength', { users, session, maxPasswordLength: 0 }, /maxPasswordLength/],
    ['maxQueuedHashes of 0', { users, session, maxQueuedHashes: 0 }, /`maxQueuedHashes` must be a positive integer/],
    ['fractional maxQueuedHashes', { users, session, maxQueuedHashes: 1.5 }, /`maxQueuedHashes` must be a positive integer/],
    ['maxQueuedHashes as a string', { users, session, maxQueuedHashes: '100' }, /`maxQueuedHashes` must be a positive integer/],
    ['unbounded maxQueuedHashes', { users, session, maxQueuedHashes: Infinity }, /`maxQueuedHashes` must be a positive integer/],
    ['bad storeTimeout', { users, session: { ...session, storeTimeout: 1.5 } }, /session\.storeTimeout/],
    ['no backend at all', { users }, /default backend "session" is not configured/],
    ['no key for the auth hash', { users, session: { secret: { sign: (v: string) => v, unsign: () => ({ valid: false }) } } }, /authHashSecret/]
  ]
  for (const [name, options, message] of cases) {
    const err = await registerError(options)
    t.match(err.message, message, name)
    t.equal(err.code, 'FST_AUTH_INVALID_OPTION', `${name}: code`)
  }
})

t.test('registers @fastify/cookie and @fastify/session when the app has not', async t => {
  const { app } = await build(t)
  t.ok(app.hasRequestDecorator('session'))
  t.ok(app.hasRequestDecorator('cookies'))
})

t.test('uses the app\'s own @fastify/session as it is', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, cookieName: 'app-session', cookie: { secure: false } })
  // The app's session has no string secret the plugin can see, so it is given a key for the auth hash.
  await app.register(auth, { users, authHashSecret: 'b'.repeat(32), hashOptions: TEST_HASH_OPTIONS })
  addRoutes(app)
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  t.equal(response.statusCode, 200)
  const cookie = response.cookies.find(c => c.name === 'app-session')
  t.ok(cookie, 'the app\'s cookie name is used')
  const me = await app.inject({ url: '/me', headers: { cookie: `app-session=${cookie?.value}` } })
  t.equal(me.json().user.username, 'ann')
})

t.test('an app that registered @fastify/session needs a key for the auth hash', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET })
  app.register(auth, { users })
  await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /authHashSecret/ })
})

t.test('session defaults: an anonymous visitor gets no cookie and costs no store write', async t => {
  const writes: string[] = []
  const store = new fastifySession.MemoryStore()
  const set = store.set.bind(store)
  store.set = (id, value, callback) => { writes.push(id); set(id, value, callback) }
  const { app } = await build(t, { plugin: { session: { secret: SECRET, store, cookie: { secure: false } } } })
  const response = await app.inject({ url: '/whoami' })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { user: null, id: null })
  t.equal(response.headers['set-cookie'], undefined)
  t.same(writes, [])
})

t.test('session defaults: the cookie is HttpOnly, SameSite=Lax, Path=/ and Secure', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users, plugin: { session: { secret: SECRET } }, fastify: { trustProxy: true }
  })
  const response = await app.inject({
    method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' }, headers: { 'x-forwarded-proto': 'https' }
  })
  const header = String(response.headers['set-cookie'])
  t.match(header, /^sessionId=[^;]+;/)
  t.match(header, /; HttpOnly/)
  t.match(header, /; Secure/)
  t.match(header, /; SameSite=Lax/)
  t.match(header, /; Path=\//)
  t.notMatch(header, /Domain=/)
})

t.test('session defaults: an unchanged session is not saved again (rolling: false)', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const store = new fastifySession.MemoryStore()
  const { app } = await build(t, { users, plugin: { session: { secret: SECRET, store, cookie: { secure: false } } } })
  const cookie = await loginAs(app, 'ann', 'pw')
  let writes = 0
  const set = store.set.bind(store)
  store.set = (id, value, callback) => { writes++; set(id, value, callback) }
  const response = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(response.statusCode, 200)
  t.equal(writes, 0)
  t.equal(response.headers['set-cookie'], undefined)
})

t.test('the app can override the session defaults', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users, plugin: { session: { secret: SECRET, saveUninitialized: true, cookie: { secure: false, sameSite: 'strict' } } }
  })
  const response = await app.inject({ url: '/whoami' })
  t.match(String(response.headers['set-cookie']), /SameSite=Strict/)
})

t.test('the auth hash key: a Buffer authHashSecret; with several session secrets, authHashSecret is required', async t => {
  const rotation = { secret: [SECRET, 'an-older-secret-also-32-characters!!'], cookie: { secure: false } }
  const refused = await registerError({ users, session: rotation })
  t.match(refused.message, /`session\.secret` is an array \(a rotation\): also pass `authHashSecret`/)
  for (const plugin of [
    { session: rotation, authHashSecret: 'h'.repeat(32) },
    { authHashSecret: Buffer.alloc(32, 7) }
  ]) {
    const users = new TestUsers()
    users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
    const { app } = await build(t, { users, plugin })
    const cookie = await loginAs(app, 'ann', 'pw')
    t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200)
  }
  const signer = { sign: (value: string) => value, unsign: () => ({ valid: false, renew: false, value: null }) }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users, session: { secret: signer as never }, jwt: { secret: 'j'.repeat(32) } })
  t.pass('a string jwt secret keys the auth hash when the session secret is a signer')
  const err = await registerError({ users, session, authHashSecret: 12345 })
  t.match(err.message, /authHashSecret/)
})

t.test('rotateOnLogin must be an array of key names', async t => {
  for (const rotateOnLogin of ['_csrf', [1], {}]) {
    const err = await registerError({ users, session, rotateOnLogin })
    t.match(err.message, /`rotateOnLogin` must be an array of session key names/)
  }
})

// Options an app can pass that configure it into an insecure or broken state without an error.

const AUTH_HASH_SECRET = 'an-auth-hash-secret-of-32-characters-or-more'

/** The app as it starts with these plugin options: 'refused' with the message, or the app itself. */
async function start (t: { teardown: (fn: () => unknown) => void }, options: Record<string, unknown>) {
  const app = Fastify()
  t.teardown(() => app.close())
  try {
    await app.register(auth, { users: new TestUsers(), session: { secret: SECRET }, ...options } as never)
    await app.ready()
  } catch (err) {
    return { refused: (err as { code?: unknown }).code === 'FST_AUTH_INVALID_OPTION', message: (err as Error).message, app }
  }
  return { refused: false, message: '', app }
}

t.test('hashOptions other than the three cost parameters are refused, not handed to argon2', async t => {
  // What each would do, handed to argon2 as it was.
  const cases: Record<string, unknown> = {
    salt: Buffer.alloc(16), // every password hashed with one salt: equal passwords, equal hashes
    hashLength: 4, // a 4-byte hash
    secret: Buffer.from('pepper'), // verify() is not given it: no one can log in
    raw: true // hashPassword() resolves to a Buffer, which is never a usable hash
  }
  for (const [key, value] of Object.entries(cases)) {
    const { refused, message } = await start(t, { hashOptions: { ...TEST_HASH_OPTIONS, [key]: value } })
    t.ok(refused, `hashOptions.${key}`)
    t.match(message, new RegExp(`hashOptions\\.${key}`), `hashOptions.${key}: the message names it`)
  }
  const { app } = await start(t, { hashOptions: TEST_HASH_OPTIONS })
  const [one, two] = [await app.hashPassword('same'), await app.hashPassword('same')]
  t.not(one.split('$')[4], two.split('$')[4], 'each hash has its own salt')
})

t.test('every secret of a session secret rotation is held to the 32-character minimum', async t => {
  for (const secret of [['short'], [SECRET, 'short'], [SECRET, '']]) {
    const { refused, message } = await start(t, { authHashSecret: AUTH_HASH_SECRET, session: { secret } })
    t.ok(refused, JSON.stringify(secret))
    t.match(message, /session\.secret.*32/, `${JSON.stringify(secret)}: the message says why`)
  }
  t.notOk((await start(t, { authHashSecret: AUTH_HASH_SECRET, session: { secret: [SECRET, `${SECRET}-old`] } })).refused)
})

t.test('a store timeout longer than a timer can wait is refused, not turned into 1 ms', async t => {
  // Node runs a timer of more than 2^31 - 1 ms after 1 ms: every store call would time out at once.
  for (const [name, options] of Object.entries({
    'session.storeTimeout': { session: { secret: SECRET, storeTimeout: 2 ** 31 } },
    'jwt.storeTimeout': { jwt: { secret: JWT_SECRET, storeTimeout: Number.MAX_SAFE_INTEGER } }
  })) {
    const { refused, message } = await start(t, options)
    t.ok(refused, name)
    t.match(message, name, `${name}: the message names it`)
  }
  t.notOk((await start(t, { session: { secret: SECRET, storeTimeout: 2 ** 31 - 1 } })).refused, 'the longest a timer can wait')
})
