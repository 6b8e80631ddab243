import t from 'tap'
import fastifySession from '@fastify/session'
import { AUTH_HASH_KEY, BACKEND_KEY, LOGIN_NONCE_KEY, USER_ID_KEY } from '../../lib/constants'
import { SECRET, TestUsers, build, cookieFrom, hashOf, loginAs, TEST_HASH_OPTIONS, addRoutes, type TestUser } from '../helper'
import { bearer, JWT_SECRET } from '../jwt/helper'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import auth from '../../lib/index'

type Store = InstanceType<typeof fastifySession.MemoryStore>

function map (store: Store): Map<string, Record<string, unknown>> {
  return (store as unknown as { store: Map<string, Record<string, unknown>> }).store
}

function sessionIdOf (cookie: string): string {
  return decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!
}

function sessionOf (store: Store, cookie: string): Record<string, unknown> {
  return map(store).get(sessionIdOf(cookie))!
}

async function setup (t: Parameters<typeof build>[0]) {
  const users = new TestUsers()
  const store = new fastifySession.MemoryStore()
  const built = await build(t, {
    users,
    plugin: { session: { secret: SECRET, store, cookie: { secure: false } } },
    extend: app => app.post('/visit', async request => { request.session.set('cart', ['book']); return {} })
  })
  const ann = users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  return { ...built, store, ann }
}

t.test('request.user is resolved before the handler with one findById; none for anonymous requests', async t => {
  const { app, users } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const before = users.calls.findById
  const me = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.username, 'ann')
  t.equal(users.calls.findById - before, 1)
  const anonymous = await app.inject({ url: '/whoami' })
  t.same(anonymous.json(), { user: null, id: null })
  t.equal(users.calls.findById - before, 1, 'no lookup for an anonymous request')
})

t.test('a user who is gone or inactive is anonymous, and the session is ended', async t => {
  const { app, users, store, ann } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  ann.isActive = false
  t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null })
  ann.isActive = true
  t.equal((await app.inject({ url: '/whoami', headers: { cookie } })).json().user, null, 'reactivation does not revive it')

  const again = await loginAs(app, 'ann', 'pw')
  users.byId.delete(1)
  t.same((await app.inject({ url: '/whoami', headers: { cookie: again } })).json(), { user: null, id: null })
  t.same([...map(store).keys()], [], 'the ended sessions left nothing behind')
})

t.test('a password change ends every session made before it', async t => {
  const { app, ann } = await setup(t)
  const laptop = await loginAs(app, 'ann', 'pw')
  const phone = await loginAs(app, 'ann', 'pw')
  ann.password = await hashOf('new password')
  for (const cookie of [laptop, phone]) {
    const response = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(response.statusCode, 401)
  }
  const fresh = await loginAs(app, 'ann', 'new password')
  t.equal((await app.inject({ url: '/me', headers: { cookie: fresh } })).statusCode, 200)
})

t.test('a session whose login record is gone is anonymous (a stale save revived it)', async t => {
  const { app, store } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  t.same(Object.keys(sessionOf(store, cookie)).filter(key => key !== 'cookie').sort(), [BACKEND_KEY, USER_ID_KEY],
    'the session holds the two keys of API.md and nothing else')
  map(store).delete(`auth-login:${sessionIdOf(cookie)}`)
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
  t.equal(sessionOf(store, cookie), undefined, 'and it is flushed')
})

t.test('a session entry copied under another id is anonymous: the record is named after the id login gave', async t => {
  const { app, store } = await setup(t)
  const victim = await loginAs(app, 'ann', 'pw')
  // An anonymous visitor's session whose entry someone with write access to the store overwrote with ann's.
  const visit = await app.inject({ method: 'POST', url: '/visit' })
  const other = cookieFrom(visit)!
  map(store).set(sessionIdOf(other), sessionOf(store, victim))
  t.same((await app.inject({ url: '/whoami', headers: { cookie: other } })).json(), { user: null, id: null })
  t.equal((await app.inject({ url: '/me', headers: { cookie: victim } })).statusCode, 200, 'the real login still works')
})

t.test('an app\'s own session.regenerate() ends the login, keys and all', async t => {
  const users = new TestUsers()
  const store = new fastifySession.MemoryStore()
  const { app } = await build(t, {
    users,
    plugin: { session: { secret: SECRET, store, cookie: { secure: false } } },
    extend: app => app.post('/renew', async request => {
      await request.session.regenerate([USER_ID_KEY, BACKEND_KEY])
      return { user: request.user?.username ?? null }
    })
  })
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const cookie = await loginAs(app, 'ann', 'pw')
  const renewed = await app.inject({ method: 'POST', url: '/renew', headers: { cookie } })
  t.same(renewed.json(), { user: 'ann' }, 'the request that renews it was made by ann')
  const next = cookieFrom(renewed)!
  t.ok(sessionOf(store, next)?.[USER_ID_KEY], 'the new session claims ann')
  t.same((await app.inject({ url: '/whoami', headers: { cookie: next } })).json(), { user: null, id: null },
    'but it has no login record, so it is anonymous (and ended)')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, 'the old id is gone too')
})

t.test('a session from an earlier version (auth hash and nonce in the session) is anonymous', async t => {
  const { app, store } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const session = sessionOf(store, cookie)
  const record = map(store).get(`auth-login:${sessionIdOf(cookie)}`)!
  map(store).delete(`auth-login:${sessionIdOf(cookie)}`)
  session[AUTH_HASH_KEY] = record.authHash
  session[LOGIN_NONCE_KEY] = 'AAAAAAAAAAAAAAAAAAAAAAAA'
  map(store).set('auth-login:AAAAAAAAAAAAAAAAAAAAAAAA', record)
  t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null })
})

t.test('a session with auth keys it did not get from login is anonymous', async t => {
  const { app, store } = await setup(t)
  type Tamper = (session: Record<string, unknown>, record: Record<string, unknown>) => void
  const tamper: Array<[string, Tamper]> = [
    ['another backend named', s => { s[BACKEND_KEY] = 'jwt' }],
    ['an invalid user id', s => { s[USER_ID_KEY] = { id: 1 } }],
    ['a login record of another user', s => { s[USER_ID_KEY] = 2 }],
    ['a forged auth hash in the login record', (_s, r) => { r.authHash = 'x'.repeat(43) }],
    ['no auth hash in the login record', (_s, r) => { delete r.authHash }],
    // The session does not hold the auth hash: one planted there is not what is checked.
    ['a forged auth hash in the login record, the right one in the session', (s, r) => {
      s[AUTH_HASH_KEY] = r.authHash
      r.authHash = 'x'.repeat(43)
    }]
  ]
  for (const [name, change] of tamper) {
    const cookie = await loginAs(app, 'ann', 'pw')
    const session = sessionOf(store, cookie)
    change(session, (map(store).get(`auth-login:${sessionIdOf(cookie)}`) as { record: Record<string, unknown> }).record)
    const response = await app.inject({ url: '/whoami', headers: { cookie } })
    t.same(response.json(), { user: null, id: null }, name)
  }
})

t.test('tampered, truncated or junk cookies give an anonymous request, never a 500', async t => {
  const { app } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const value = cookie.slice('sessionId='.length)
  const junk = [
    `sessionId=${value.slice(0, -1)}${value.endsWith('A') ? 'B' : 'A'}`,
    `sessionId=${value.slice(0, 20)}`,
    'sessionId=%FF%FE',
    'sessionId=',
    `sessionId=${'x'.repeat(8000)}`,
    `sessionId=${value.split('.')[0]!}`
  ]
  for (const header of junk) {
    const response = await app.inject({ url: '/whoami', headers: { cookie: header } })
    t.equal(response.statusCode, 200, header.slice(0, 40))
    t.same(response.json(), { user: null, id: null })
  }
})

t.test('a failing user lookup answers 503: never a user by mistake, never a silent anonymous', async t => {
  const { app, users } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  users.failFindById = true
  const response = await app.inject({ url: '/whoami', headers: { cookie } })
  t.equal(response.statusCode, 503)
  t.notMatch(response.body, /ann/)
})

t.test('a failing store answers 5xx', async t => {
  const { app, store } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const get = store.get.bind(store)
  store.get = (id, callback) => id.startsWith('auth-login:') ? callback(new Error('store down'), null) : get(id, callback)
  t.equal((await app.inject({ url: '/whoami', headers: { cookie } })).statusCode, 503, 'the login record cannot be read')
  store.get = (_id, callback) => callback(new Error('store down'), null)
  t.equal((await app.inject({ url: '/whoami', headers: { cookie } })).statusCode, 503, 'the session cannot be read')
})

t.test('user stores that answer synchronously, or with a thenable that is not a Promise, work alike', async t => {
  type Answer = (user: unknown) => unknown
  const ways: Array<[string, Answer, Answer]> = [
    ['a plain value', user => user, () => { throw new Error('user store is down') }],
    // A query builder (Knex, Mongoose queries) is a thenable: awaited like a promise.
    ['a thenable', user => ({ then: (resolve: (value: unknown) => void) => resolve(user) }),
      () => ({ then: (_resolve: unknown, reject: (error: unknown) => void) => reject(new Error('user store is down')) })]
  ]
  for (const [name, answer, failure] of ways) {
    const { app, users, ann } = await setup(t)
    const cookie = await loginAs(app, 'ann', 'pw')
    let failing = false
    users.findById = ((id: number) => {
      users.calls.findById++
      return failing ? failure(id) : answer(users.byId.get(Number(id)))
    }) as never
    const me = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(me.json().user?.username, 'ann', `${name}: the user is found`)
    ann.isActive = false
    t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null }, `${name}: and still checked`)
    ann.isActive = true
    const again = await loginAs(app, 'ann', 'pw')
    failing = true
    const failed = await app.inject({ url: '/whoami', headers: { cookie: again } })
    t.equal(failed.statusCode, 503, `${name}: a failure is a 503`)
    t.equal(failed.json().code, 'FST_AUTH_USER_STORE_ERROR')
    t.notMatch(failed.body, /down/, `${name}: without the store's message`)
  }
})

t.test('a session store that answers later (Redis, a database) gives the same answers', async t => {
  const store = new fastifySession.MemoryStore()
  const later = (fn: () => void): void => { setImmediate(fn) }
  const get = store.get.bind(store)
  const set = store.set.bind(store)
  const destroy = store.destroy.bind(store)
  store.get = (id, callback) => later(() => get(id, callback))
  store.set = (id, value, callback) => later(() => set(id, value, callback))
  store.destroy = (id, callback) => later(() => destroy(id, callback))
  const users = new TestUsers()
  const { app } = await build(t, { users, plugin: { session: { secret: SECRET, store, cookie: { secure: false } } } })
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const cookie = await loginAs(app, 'ann', 'pw')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).json().user.username, 'ann')
  map(store).delete(`auth-login:${sessionIdOf(cookie)}`)
  t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null }, 'a missing record, read later, is anonymous')
  t.equal(sessionOf(store, cookie), undefined, 'and the session is flushed')
  const again = await loginAs(app, 'ann', 'pw')
  store.get = (id, callback) => later(() => id.startsWith('auth-login:') ? callback(new Error('store down')) : get(id, callback))
  t.equal((await app.inject({ url: '/whoami', headers: { cookie: again } })).statusCode, 503, 'a failing record read is a 503')
})

t.test('a store that answers ENOENT for a missing record (session-file-store) gives an anonymous request, not a 5xx', async t => {
  for (const later of [false, true]) {
    const { app, store } = await setup(t)
    const cookie = await loginAs(app, 'ann', 'pw')
    const get = store.get.bind(store)
    store.get = (id, callback) => {
      if (!id.startsWith('auth-login:')) return get(id, callback)
      const answer = (): void => callback(Object.assign(new Error('no such file'), { code: 'ENOENT' }), { userId: 1, authHash: 'x' })
      if (later) setImmediate(answer)
      else answer()
    }
    const response = await app.inject({ url: '/whoami', headers: { cookie } })
    t.equal(response.statusCode, 200, later ? 'answered later' : 'answered at once')
    t.same(response.json(), { user: null, id: null }, 'ENOENT is no record, whatever value comes with it')
  }
})

// What a response says when something behind the plugin fails, and what it leaves the client holding.

/** What a database driver's error says: a host, a table, a query. None of it is the client's business. */
const INTERNALS = 'connect ECONNREFUSED 10.0.3.7:5432 (SELECT * FROM staff_users WHERE id = $1)'

function failing (): never {
  throw new Error(INTERNALS)
}

t.test('a user store that fails answers 503 FST_AUTH_USER_STORE_ERROR, without its message', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const logged: unknown[] = []
  const { app } = await build(t, {
    users,
    fastify: { logger: { level: 'error', stream: { write: (line: string) => logged.push(JSON.parse(line)) } } },
    extend: app => app.post('/login-as', async request => { await request.login({ userId: 1 }); return {} })
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  users.findById = async () => failing()
  users.findByUsername = async () => failing()
  const requests = {
    'resolving request.user (findById)': { url: '/whoami', headers: { cookie } },
    'login({ userId }) (findById)': { method: 'POST' as const, url: '/login-as' },
    'authenticate (findByUsername)': { method: 'POST' as const, url: '/check', payload: { username: 'ann', password: 'pw' } }
  }
  for (const [name, request] of Object.entries(requests)) {
    logged.length = 0
    const response = await app.inject(request)
    t.equal(response.statusCode, 503, name)
    t.equal(response.json().code, 'FST_AUTH_USER_STORE_ERROR', name)
    t.notMatch(response.body, /ECONNREFUSED|10\.0\.3\.7|SELECT|staff_users/, `${name}: the store's message stays on the server`)
    t.match(JSON.stringify(logged), /ECONNREFUSED 10\.0\.3\.7/, `${name}: and is logged there, as the error's cause`)
  }
})

// App hooks around the plugin's own onRequest hook, in an app that registered @fastify/session itself.

t.test('an app hook that runs before the plugin\'s sees no user and no user id, even for a login that has ended', async t => {
  const users = new TestUsers()
  const ann = users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const seen: Record<string, unknown[]> = { before: [], after: [] }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, cookie: { secure: false } })
  app.addHook('onRequest', async request => { seen.before!.push([request.user, request.getUserId()]) })
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, authHashSecret: `${SECRET}-auth-hash` })
  app.addHook('onRequest', async request => { seen.after!.push([(request.user as { id?: number } | null)?.id ?? null, request.getUserId()]) })
  addRoutes(app)
  await app.ready()

  const cookie = await loginAs(app, 'ann', 'pw')
  seen.before!.length = seen.after!.length = 0
  await app.inject({ url: '/whoami', headers: { cookie } })
  t.same(seen, { before: [[null, null]], after: [[1, 1]] }, 'a live login: resolved for the hooks after the plugin only')

  ann.password = await hashOf('changed')
  seen.before!.length = seen.after!.length = 0
  await app.inject({ url: '/whoami', headers: { cookie } })
  t.same(seen, { before: [[null, null]], after: [[null, null]] }, 'an ended login: the hook before the plugin is not told its id')
})

// What the plugin does with what the app's user store gives back. A login names a user id; the user
// store answers for it. Users without a password (signed in by link or single sign-on) all have the same auth hash,
// so for them the id is all that ties a login to its user.

t.test('a user store that answers for an id with another user does not log that user in', async t => {
  const rows: TestUser[] = [
    { id: 1, username: 'the-admin' },
    { id: 5, username: 'a-customer' }
  ]
  // A common bug: a lookup that matches nothing falls back to the first row (Mongoose's findOne({ _id: undefined })
  // is findOne({})). The first row is usually the oldest account: the admin's.
  const users = {
    findByUsername: async (username: string) => rows.find(row => row.username === username),
    findById: async (id: unknown) => rows.find(row => row.id === Number(id)) ?? rows[0]
  }
  // Not a TestUsers: `plugin.users` replaces build()'s store.
  const { app } = await build(t, {
    plugin: { users, jwt: { secret: JWT_SECRET } },
    extend: app => { app.post('/token', async request => ({ token: await request.login({ userId: 5, backend: 'jwt' }) })) }
  })

  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/login-id', payload: { userId: 5 } }))!
  const token = (await app.inject({ method: 'POST', url: '/token' })).json().token as string
  t.equal((await app.inject({ url: '/whoami', headers: { cookie } })).json().user.username, 'a-customer')
  t.equal((await app.inject({ url: '/whoami', headers: bearer(token) })).json().user.username, 'a-customer')

  rows.splice(1, 1) // the customer's account is deleted
  for (const [name, headers] of [['session', { cookie }], ['token', bearer(token)]] as const) {
    const response = await app.inject({ url: '/whoami', headers })
    t.equal(response.statusCode, 200, name)
    t.equal(response.json().user, null, `${name}: the deleted customer's login is nobody, not the admin`)
  }
})
