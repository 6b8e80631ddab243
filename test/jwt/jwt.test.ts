import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import auth, { BACKEND_KEY, USER_ID_KEY, getUserFromJwt, getUserId } from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, hashOf } from '../helper'
import { bearer, buildJwt, decodeSegment, tokenFor, whoami } from './helper'

t.test('login resolves to a token carrying the user id, the backend, the auth hash, iat, exp, a jti and the times of its login', async t => {
  const { app } = await buildJwt(t, {}, {
    after: app => {
      app.post('/login-user', async request => {
        const token = await request.login({ userId: 2 })
        return { token, user: request.user, id: request.getUserId() }
      })
    }
  })
  const response = await app.inject({ method: 'POST', url: '/login-user' })
  const { token, user, id } = response.json()
  t.equal(user.id, 2, 'request.user is set at once')
  t.equal(id, 2, 'getUserId() reads the issued token')
  t.same(decodeSegment(token, 0), { alg: 'HS256', typ: 'JWT' })
  const claims = decodeSegment(token, 1)
  t.same(Object.keys(claims).sort(), [BACKEND_KEY, USER_ID_KEY, '_auth_user_hash', '_auth_login_iat', '_auth_login_exp', 'auth_time', 'exp', 'iat', 'jti'].sort())
  t.equal(claims[USER_ID_KEY], 2)
  t.equal(claims[BACKEND_KEY], 'jwt')
  t.equal(claims.exp as number - (claims.iat as number), 15 * 60, 'expiresIn defaults to 15 minutes')
  t.ok(Math.abs(claims.iat as number - Date.now() / 1000) < 5)
  t.match(claims.jti, /^[\w-]{22}$/)
  t.match(claims._auth_user_hash, /^[\w-]{43}$/)
  const again = decodeSegment(await tokenFor(app, 'alice', 'pw2'), 1)
  t.not(again.jti, claims.jti, 'every token has its own jti')
  t.equal(response.headers['set-cookie'], undefined, 'no cookie without jwt.cookie')
})

t.test('a bearer token authenticates; without one a request is anonymous and costs no user lookup', async t => {
  const { app, users } = await buildJwt(t)
  const token = await tokenFor(app)
  const before = users.calls.findById
  t.same(await whoami(app, {}), { status: 200, id: null })
  t.equal(users.calls.findById, before, 'no lookup for an anonymous request')
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
  t.same(await whoami(app, { authorization: `bEaReR   ${token}  ` }), { status: 200, id: 1 }, 'the scheme is case-insensitive')
  t.equal(users.calls.findById, before + 2, 'one lookup per authenticated request')
  t.same(await whoami(app, { authorization: `Basic ${Buffer.from('bob:pw').toString('base64')}` }), { status: 200, id: null })
  const me = await app.inject({ url: '/me', headers: bearer(token) })
  t.equal(me.json().user.username, 'bob')
})

t.test('expiresIn sets the lifetime, and a token past it is anonymous', async t => {
  for (const [expiresIn, seconds] of [[60, 60], ['90s', 90], ['2h', 7200], ['7d', 604800]] as const) {
    const { app } = await buildJwt(t, { expiresIn })
    const claims = decodeSegment(await tokenFor(app), 1)
    t.equal(claims.exp as number - (claims.iat as number), seconds, `expiresIn ${expiresIn}`)
  }
  const { app } = await buildJwt(t, { expiresIn: '1m' })
  const token = await tokenFor(app)
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  Date.now = () => realNow() + 59_000
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'valid until its exp')
  Date.now = () => realNow() + 61_000
  t.same(await whoami(app, bearer(token)), { status: 200, id: null }, 'anonymous after its exp')
})

t.test('shortening expiresIn shortens the tokens already issued', async t => {
  const { app: long } = await buildJwt(t, { expiresIn: '1h' })
  const token = await tokenFor(long)
  const { app: short } = await buildJwt(t, { expiresIn: '1m' })
  t.same(await whoami(short, bearer(await tokenFor(short))), { status: 200, id: 1 })
  const realNow = Date.now
  t.teardown(() => { Date.now = realNow })
  Date.now = () => realNow() + 120_000
  t.same(await whoami(long, bearer(token)), { status: 200, id: 1 }, 'the issuing app still takes it')
  t.same(await whoami(short, bearer(token)), { status: 200, id: null }, 'older than the new lifetime: anonymous')
})

t.test('a password change, a deactivation or a deletion ends the tokens issued before it', async t => {
  const { app, users } = await buildJwt(t)
  const bob = users.byId.get(1)!
  const token = await tokenFor(app)
  bob.password = await hashOf('new password')
  t.same(await whoami(app, bearer(token)), { status: 200, id: null }, 'password changed')
  const fresh = await tokenFor(app, 'bob', 'new password')
  t.same(await whoami(app, bearer(fresh)), { status: 200, id: 1 })
  bob.isActive = false
  t.same(await whoami(app, bearer(fresh)), { status: 200, id: null }, 'inactive')
  bob.isActive = true
  t.same(await whoami(app, bearer(fresh)), { status: 200, id: 1 }, 'stateless without revocation hooks')
  users.byId.delete(1)
  t.same(await whoami(app, bearer(fresh)), { status: 200, id: null }, 'deleted')
})

t.test('requireUser answers 401 with a Bearer challenge', async t => {
  const { app } = await buildJwt(t)
  const anonymous = await app.inject({ url: '/me' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.json().code, 'FST_AUTH_UNAUTHORIZED')
  t.equal(anonymous.headers['www-authenticate'], 'Bearer')
  const bad = await app.inject({ url: '/me', headers: bearer('not.a.token') })
  t.equal(bad.statusCode, 401)
  t.equal(bad.headers['www-authenticate'], 'Bearer error="invalid_token"', 'RFC 6750: the token was refused')
  const good = await app.inject({ url: '/me', headers: bearer(await tokenFor(app)) })
  t.equal(good.statusCode, 200)
  t.equal(good.headers['www-authenticate'], undefined)
})

t.test('logout clears the claims and request.user; the token itself lives on without revocation hooks', async t => {
  const { app } = await buildJwt(t, {}, {
    after: app => {
      app.post('/logout-twice', async request => {
        const before = await getUserFromJwt(request)
        await request.logout({ backend: 'jwt' })
        return { before: before !== null, after: await getUserFromJwt(request), user: request.user, id: getUserId(request, 'jwt') }
      })
    }
  })
  const token = await tokenFor(app)
  const response = await app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
  t.same(response.json(), { user: null })
  t.same((await app.inject({ method: 'POST', url: '/logout-twice', headers: bearer(token) })).json(),
    { before: true, after: null, user: null, id: null }, 'nothing reads the token again within the request')
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'a JWT is stateless: see jwt.revoke')
  t.same((await app.inject({ method: 'POST', url: '/logout' })).json(), { user: null }, 'logout without a token is fine')
})

t.test('getUserFromJwt and getUserId(request, "jwt") read the request token', async t => {
  const { app, users } = await buildJwt(t, {}, {
    after: app => {
      app.get('/from-jwt', async request => ({ user: await getUserFromJwt(request), id: getUserId(request, 'jwt') }))
    }
  })
  const token = await tokenFor(app)
  const response = await app.inject({ url: '/from-jwt', headers: bearer(token) })
  t.equal(response.json().user.username, 'bob')
  t.equal(response.json().id, 1)
  t.same((await app.inject({ url: '/from-jwt' })).json(), { user: null, id: null })
  t.same((await app.inject({ url: '/from-jwt', headers: bearer(token.slice(0, -2)) })).json(), { user: null, id: null })
  users.byId.delete(1)
  t.same((await app.inject({ url: '/from-jwt', headers: bearer(token) })).json(), { user: null, id: null },
    'a token whose user is gone names no id')
})

t.test('the jwt backend used without being configured fails with FST_AUTH_BACKEND_NOT_CONFIGURED', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users: new TestUsers(), session: { secret: SECRET, cookie: { secure: false } }, hashOptions: TEST_HASH_OPTIONS } as never)
  const calls: Record<string, (request: FastifyRequest) => unknown> = {
    login: request => request.login({ userId: 1, backend: 'jwt' }),
    logout: request => request.logout({ backend: 'jwt' }),
    getUserId: request => request.getUserId('jwt'),
    getUserFromJwt: request => getUserFromJwt(request)
  }
  for (const [name, call] of Object.entries(calls)) app.get(`/${name}`, async request => call(request))
  app.get('/me', { preHandler: app.requireUser }, async () => 'hidden')
  await app.ready()
  t.equal(app.hasDecorator('jwt'), false, 'no @fastify/jwt without the jwt option')
  for (const name of Object.keys(calls)) {
    const response = await app.inject({ url: `/${name}`, headers: bearer('a.b.c') })
    t.equal(response.statusCode, 500, name)
    t.equal(response.json().code, 'FST_AUTH_BACKEND_NOT_CONFIGURED', name)
    t.match(response.json().message, /`jwt` option/, name)
  }
  const me = await app.inject({ url: '/me', headers: bearer('a.b.c') })
  t.equal(me.statusCode, 401)
  t.equal(me.headers['www-authenticate'], undefined, 'no Bearer challenge from a session-only app')
})
