import t from 'tap'
import type { FastifyInstance } from 'fastify'
import fastifySession from '@fastify/session'
import { getUserFromSession } from '../../lib/index'
import { AUTH_HASH_KEY, BACKEND_KEY, USER_ID_KEY } from '../../lib/constants'
import { SECRET, TestUsers, build, cookieFrom, hashOf, loginAs } from '../helper'

async function setup (t: Parameters<typeof build>[0], plugin: Record<string, unknown> = {}, extend?: (app: FastifyInstance) => void) {
  const users = new TestUsers()
  const store = new fastifySession.MemoryStore()
  const built = await build(t, {
    users,
    plugin: { session: { secret: SECRET, store, cookie: { secure: false } }, ...plugin },
    extend
  })
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('pw') })
  return { ...built, store }
}

/** The store's copy of the session behind a `sessionId=...` cookie. */
function stored (store: InstanceType<typeof fastifySession.MemoryStore>, cookie: string): Record<string, unknown> | undefined {
  const id = decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!
  return (store as unknown as { store: Map<string, Record<string, unknown>> }).store.get(id)
}

t.test('login stores the user id, the backend and a login record with the auth hash, under a new session id', async t => {
  const { app, store } = await setup(t, {}, app => app.post('/visit', async request => { request.session.set('cart', ['book']); return {} }))
  const visit = await app.inject({ method: 'POST', url: '/visit' })
  const anonymous = cookieFrom(visit)!
  t.ok(anonymous, 'the visitor has a session')

  const response = await app.inject({
    method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' }, headers: { cookie: anonymous }
  })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { id: 1, token: null })
  const cookie = cookieFrom(response)!
  t.not(cookie, anonymous, 'the session id changed')
  t.equal(stored(store, anonymous), undefined, 'the pre-login session is gone from the store')

  const session = stored(store, cookie)!
  t.equal(session[USER_ID_KEY], 1)
  t.equal(session[BACKEND_KEY], 'session')
  t.same(session.cart, ['book'], 'the visitor\'s own data survives login')
  const record = (store as unknown as { store: Map<string, { record?: { userId: unknown, authHash: unknown } }> }).store.get(`auth-login:${decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!}`)?.record
  t.equal(record?.userId, 1, 'the login record names the user')
  t.match(record?.authHash, /^[\w-]{43}$/, 'the login record holds the auth hash')
  t.notOk(AUTH_HASH_KEY in session, 'the session does not: each key in it costs every request')

  const replay = await app.inject({ url: '/whoami', headers: { cookie: anonymous } })
  t.same(replay.json(), { user: null, id: null }, 'the pre-login cookie does not authenticate')
})

t.test('logging in as another user starts from an empty session', async t => {
  const { app, store } = await setup(t, {}, app => app.post('/note', async request => { request.session.set('note', 'ann private'); return {} }))
  const ann = await loginAs(app, 'ann', 'pw')
  const noted = await app.inject({ method: 'POST', url: '/note', headers: { cookie: ann } })
  const annCookie = cookieFrom(noted) ?? ann
  const response = await app.inject({
    method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' }, headers: { cookie: annCookie }
  })
  const bob = cookieFrom(response)!
  const session = stored(store, bob)!
  t.equal(session[USER_ID_KEY], 2)
  t.equal(session.note, undefined, 'ann\'s data is not bob\'s')
  const old = await app.inject({ url: '/whoami', headers: { cookie: annCookie } })
  t.equal(old.json().user, null, 'ann\'s old cookie is dead')
  const oldNonce = stored(store, annCookie)
  t.equal(oldNonce, undefined)
})

t.test('logging in again as the same user keeps the session data', async t => {
  const { app, store } = await setup(t, {}, app => app.post('/note', async request => { request.session.set('theme', 'dark'); return {} }))
  const first = await loginAs(app, 'ann', 'pw')
  const noted = await app.inject({ method: 'POST', url: '/note', headers: { cookie: first } })
  const again = await app.inject({
    method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' }, headers: { cookie: cookieFrom(noted) ?? first }
  })
  t.equal(stored(store, cookieFrom(again)!)?.theme, 'dark')
  const records = [...(store as unknown as { store: Map<string, unknown> }).store.keys()].filter(k => k.startsWith('auth-login:'))
  t.equal(records.length, 1, 'the first login\'s record was removed')
})

t.test('login({ userId }) looks the user up and sets request.user at once', async t => {
  const { app, users } = await setup(t, {}, app => app.post('/fast', async request => {
    await request.login({ userId: 2 })
    return { user: request.user, id: request.getUserId() }
  }))
  const before = users.calls.findById
  const response = await app.inject({ method: 'POST', url: '/fast' })
  t.equal(response.statusCode, 200)
  t.equal(response.json().user.username, 'bob')
  t.equal(response.json().id, 2)
  t.equal(users.calls.findById - before, 1)
  const me = await app.inject({ url: '/me', headers: { cookie: cookieFrom(response)! } })
  t.equal(me.json().user.username, 'bob')
})

t.test('login refuses what the seed refuses, with an AuthenticationError', async t => {
  const { app, users } = await setup(t, {}, app => {
    app.post('/raw', async request => {
      await request.login(request.body as never)
      return {}
    })
    app.post('/no-args', async request => { await (request.login as (o?: unknown) => Promise<unknown>)(); return {} })
  })
  users.add({ id: 3, username: 'off', password: await hashOf('pw'), isActive: false })
  const cases: Array<[string, unknown]> = [
    ['neither user nor userId', {}],
    ['both user and userId', { user: { id: 1 }, userId: 1 }],
    ['userId null', { userId: null }],
    ['userId empty string', { userId: '' }],
    ['userId an object', { userId: { id: 1 } }],
    ['userId a fraction', { userId: 1.5 }],
    ['userId of nobody', { userId: 99 }],
    ['user without an id', { user: { username: 'x' } }],
    ['user with an object id', { user: { id: { $ne: 1 } } }],
    ['user not an object', { user: 'ann' }],
    ['inactive user', { userId: 3 }]
  ]
  for (const [name, body] of cases) {
    const response = await app.inject({ method: 'POST', url: '/raw', payload: body as object })
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().code, 'FST_AUTH_AUTHENTICATION_FAILED', name)
    t.equal(response.headers['set-cookie'], undefined, `${name}: no session`)
  }
  const noArgs = await app.inject({ method: 'POST', url: '/no-args' })
  t.equal(noArgs.statusCode, 500)
  t.equal(noArgs.json().code, 'FST_AUTH_INVALID_ARGUMENT')
  t.match(noArgs.json().message, /takes \{ user \} or \{ userId \}/)
})

t.test('an unknown backend is FST_AUTH_UNSUPPORTED_BACKEND; an unconfigured one is FST_AUTH_BACKEND_NOT_CONFIGURED', async t => {
  const { app } = await setup(t, {}, app => app.post('/raw', async request => { await request.login(request.body as never); return {} }))
  const unknown = await app.inject({ method: 'POST', url: '/raw', payload: { userId: 1, backend: 'ldap' } })
  t.equal(unknown.statusCode, 500)
  t.equal(unknown.json().code, 'FST_AUTH_UNSUPPORTED_BACKEND')
  const jwt = await app.inject({ method: 'POST', url: '/raw', payload: { userId: 1, backend: 'jwt' } })
  t.equal(jwt.json().code, 'FST_AUTH_BACKEND_NOT_CONFIGURED')
})

t.test('a route outside the session cookie path cannot log in', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    plugin: { session: { secret: SECRET, cookie: { secure: false, path: '/app' } } },
    extend: app => app.get('/seed-user', async request => ({ user: await getUserFromSession(request) }))
  })
  t.same((await app.inject({ url: '/seed-user' })).json(), { user: null }, 'getUserFromSession finds no session there')
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  t.equal(response.statusCode, 400, 'a 400: a client can choose a target that gets no session (test/security/no-session.test.ts)')
  t.equal(response.json().code, 'FST_AUTH_SESSION_UNAVAILABLE')
  const anonymous = await app.inject({ url: '/whoami' })
  t.same(anonymous.json(), { user: null, id: null })
})

t.test('onLogin is awaited with the user; a throwing listener is logged and the login stands', async t => {
  const seen: unknown[] = []
  const { app } = await setup(t, {
    onLogin: async ({ user, backend }: { user: { id: number }, backend: string }) => {
      await new Promise(resolve => setTimeout(resolve, 5))
      seen.push([user.id, backend])
      if (user.id === 2) throw new Error('audit log is down')
    }
  })
  await loginAs(app, 'ann', 'pw')
  t.same(seen, [[1, 'session']], 'awaited before the response')
  const bob = await loginAs(app, 'bob', 'pw')
  const me = await app.inject({ url: '/me', headers: { cookie: bob } })
  t.equal(me.json().user.username, 'bob')
})

t.test('string user ids work; over-long ones are refused', async t => {
  const users = new TestUsers()
  const { app } = await build(t, {
    users,
    plugin: { getUserId: (user: { username: string }) => `u-${user.username}`, users: { ...users, findById: async (id: string) => users.findByUsername(id.slice(2)) } },
    extend: app => app.post('/raw', async request => { await request.login(request.body as never); return { id: request.getUserId() } })
  })
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const cookie = await loginAs(app, 'ann', 'pw')
  const me = await app.inject({ url: '/whoami', headers: { cookie } })
  t.equal(me.json().id, 'u-ann')
  t.equal(me.json().user.username, 'ann')
  const long = await app.inject({ method: 'POST', url: '/raw', payload: { userId: `u-${'a'.repeat(511)}` } })
  t.equal(long.statusCode, 401)
})

t.test('a user without a password (signed up elsewhere) can be logged in by id; setting a password ends that login', async t => {
  const { app, users } = await setup(t, {}, app => app.post('/sso', async request => {
    await request.login({ userId: 9 })
    return {}
  }))
  const sso = users.add({ id: 9, username: 'sso' })
  const response = await app.inject({ method: 'POST', url: '/sso' })
  const cookie = cookieFrom(response)!
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).json().user.username, 'sso')
  sso.password = await hashOf('now with a password')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
})
