import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import * as argon2 from 'argon2'
import auth, { BACKEND_KEY, DEFAULT_AUTH_BACKEND, SUPPORTED_BACKENDS, USER_ID_KEY, authenticate, getUserFromJwt, getUserFromSession, getUserId, login, logout } from '../../lib/index'
import { TEST_HASH_OPTIONS, TestUsers, build, cookieFrom, hashOf, loginAs } from '../helper'
import { JWT_SECRET, bearer, whoami } from '../jwt/helper'

t.test('the seed\'s constants', async t => {
  t.equal(USER_ID_KEY, '_auth_user_id')
  t.equal(BACKEND_KEY, '_auth_backend')
  t.equal(DEFAULT_AUTH_BACKEND, 'session')
  t.same(SUPPORTED_BACKENDS, ['session', 'jwt'])
  t.ok(Object.isFrozen(SUPPORTED_BACKENDS))
})

t.test('the seed-named functions work on a request, like the decorators', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    extend: app => {
      app.post('/seed-login', async request => {
        const user = await authenticate(request, 'ann', 'pw')
        await login(request, { user })
        return { id: getUserId(request), sameAsDecorator: request.getUserId() === getUserId(request) }
      })
      app.get('/seed-user', async request => ({ user: await getUserFromSession(request), id: getUserId(request, 'session') }))
      app.get('/seed-jwt', async request => getUserFromJwt(request))
      app.post('/seed-logout', async request => {
        await logout(request)
        return { user: request.user, id: getUserId(request) }
      })
    }
  })
  const response = await app.inject({ method: 'POST', url: '/seed-login' })
  t.same(response.json(), { id: 1, sameAsDecorator: true })
  const cookie = response.headers['set-cookie'] as string
  const user = await app.inject({ url: '/seed-user', headers: { cookie } })
  t.equal(user.json().user.username, 'ann')
  t.equal(user.json().id, 1)
  t.equal((await app.inject({ url: '/seed-jwt' })).json().code, 'FST_AUTH_BACKEND_NOT_CONFIGURED')
  const out = await app.inject({ method: 'POST', url: '/seed-logout', headers: { cookie } })
  t.same(out.json(), { user: null, id: null })
})

t.test('the seed-named functions need the plugin on the instance', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/', async request => getUserId(request))
  const response = await app.inject({ url: '/' })
  t.equal(response.statusCode, 500)
  t.match(response.json().message, /not registered/)
})

t.test('setDefaultAuthBackend validates the name and changes the default of that app only', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users, plugin: { jwt: { secret: 'j'.repeat(32) } } })
  const other = await build(t, { users, plugin: { jwt: { secret: 'j'.repeat(32) } } })
  const sessionOnly = await build(t)
  t.throws(() => app.setDefaultAuthBackend('ldap' as never), { code: 'FST_AUTH_UNSUPPORTED_BACKEND', statusCode: 500 })
  t.throws(() => sessionOnly.app.setDefaultAuthBackend('jwt'), { code: 'FST_AUTH_BACKEND_NOT_CONFIGURED' },
    'a backend without options is refused at once, not at the next login')

  app.setDefaultAuthBackend('jwt')
  const token = await app.inject({ method: 'POST', url: '/login-id', payload: { userId: 1 } })
  t.equal(token.cookies.length, 0, 'login() now issues a token, not a session')
  const session = await other.app.inject({ method: 'POST', url: '/login-id', payload: { userId: 1 } })
  t.ok(cookieFrom(session), 'another app keeps its own default')
  app.setDefaultAuthBackend('session')
  t.ok(cookieFrom(await app.inject({ method: 'POST', url: '/login-id', payload: { userId: 1 } })), 'and back')
})

t.test('getUserId(backend) validates the backend name', async t => {
  const { app } = await build(t, {
    extend: app => app.get('/id', async request => request.getUserId((request.query as { b: 'session' }).b))
  })
  t.equal((await app.inject({ url: '/id?b=ldap' })).json().code, 'FST_AUTH_UNSUPPORTED_BACKEND')
  t.equal((await app.inject({ url: '/id?b=session' })).body, 'null')
})

t.test('hashPassword makes an argon2id hash with the configured parameters', async t => {
  const { app } = await build(t)
  const hash = await app.hashPassword('correct horse')
  t.match(hash, /^\$argon2id\$v=19\$/)
  t.equal(argon2.needsRehash(hash, TEST_HASH_OPTIONS), false)
  t.ok(await argon2.verify(hash, 'correct horse'))
  await t.rejects(app.hashPassword('' as string), { code: 'FST_AUTH_INVALID_ARGUMENT' })
  await t.rejects(app.hashPassword(42 as never), { code: 'FST_AUTH_INVALID_ARGUMENT' })
})

t.test('hashPassword defaults to argon2\'s own parameters', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users: new TestUsers(), session: { secret: 'c'.repeat(32) } })
  const hash = await app.hashPassword('pw')
  t.equal(argon2.needsRehash(hash), false, 'argon2\'s defaults (RFC 9106\'s second recommendation)')
})

t.test('requireUser answers 401 FST_AUTH_UNAUTHORIZED without a user, and lets a user through', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users })
  const anonymous = await app.inject({ url: '/me' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'FST_AUTH_UNAUTHORIZED')
  const cookie = await loginAs(app, 'ann', 'pw')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200)
})

t.test('the plugin is a fastify-plugin named fastify-auth-helpers for Fastify 5', async t => {
  const meta = (auth as unknown as Record<symbol, { name: string, fastify: string }>)[Symbol.for('plugin-meta')]
  t.equal(meta.name, 'fastify-auth-helpers')
  t.equal(meta.fastify, '5.x')
  t.equal((auth as unknown as { default: unknown }).default, auth)
})

// The seed-named functions and their decorators, called the way a port of the seed's code calls them.

async function buildBoth (t: { teardown: (fn: () => unknown) => void }, revoked: Set<string>): Promise<FastifyInstance> {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    plugin: {
      jwt: {
        secret: JWT_SECRET,
        revoke: async (claims: { jti: string }) => { revoked.add(claims.jti) },
        isRevoked: async (claims: { jti: string }) => revoked.has(claims.jti)
      }
    },
    extend: app => {
      app.post('/api/token', async request => ({ token: await request.login({ userId: 1, backend: 'jwt' }) }))
      app.post('/api/logout/decorator', async request => { await request.logout('jwt' as never); return { done: true } })
      app.post('/api/logout/function', async request => { await logout(request, 'jwt' as never); return { done: true } })
      app.post('/api/logout/array', async request => { await request.logout(['jwt'] as never); return { done: true } })
      app.post('/cart', async request => { request.session.set('cart', ['book']); return {} })
      app.get('/cart', async request => ({ user: await getUserFromSession(request), cart: request.session.get('cart') ?? null }))
    }
  })
  return app
}

t.test('logout(\'jwt\'), the seed\'s positional backend, is refused rather than logging out the default backend', async t => {
  const revoked = new Set<string>()
  const app = await buildBoth(t, revoked)
  for (const route of ['/api/logout/decorator', '/api/logout/function', '/api/logout/array']) {
    const token = (await app.inject({ method: 'POST', url: '/api/token' })).json().token as string
    const response = await app.inject({ method: 'POST', url: route, headers: bearer(token) })
    t.equal(response.statusCode, 500, `${route}: not reported as a logout`)
    t.equal(response.json().code, 'FST_AUTH_INVALID_ARGUMENT', route)
    t.match(response.json().message, /logout\(\) takes \{ backend \}/, route)
    t.equal(revoked.size, 0, `${route}: nothing was revoked`)
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, `${route}: the client knows its token still works`)
  }
})

t.test('getUserFromSession() on an anonymous visitor leaves their session alone', async t => {
  const app = await buildBoth(t, new Set())
  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/cart' }))!
  for (let i = 0; i < 2; i++) {
    const response = await app.inject({ url: '/cart', headers: { cookie } })
    t.same(response.json(), { user: null, cart: ['book'] }, 'the visitor\'s data is still there')
    t.equal(response.headers['set-cookie'], undefined, 'the session was neither replaced nor expired')
  }
})
