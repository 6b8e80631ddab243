import t from 'tap'
import fastifySession from '@fastify/session'
import { AUTH_HASH_KEY, BACKEND_KEY, LOGIN_NONCE_KEY, USER_ID_KEY } from '../lib/constants'
import { SECRET, TestUsers, build, hashOf, loginAs } from './helper'

type Store = InstanceType<typeof fastifySession.MemoryStore>

function map (store: Store): Map<string, Record<string, unknown>> {
  return (store as unknown as { store: Map<string, Record<string, unknown>> }).store
}

function sessionOf (store: Store, cookie: string): Record<string, unknown> {
  return map(store).get(decodeURIComponent(cookie.split('=')[1]!).split('.')[0]!)!
}

async function setup (t: Parameters<typeof build>[0]) {
  const users = new TestUsers()
  const store = new fastifySession.MemoryStore()
  const built = await build(t, { users, plugin: { session: { secret: SECRET, store, cookie: { secure: false } } } })
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
  const nonce = sessionOf(store, cookie)[LOGIN_NONCE_KEY]
  map(store).delete(`auth-login:${String(nonce)}`)
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
})

t.test('a session with auth keys it did not get from login is anonymous', async t => {
  const { app, store } = await setup(t)
  type Tamper = (session: Record<string, unknown>, record: Record<string, unknown>) => void
  const tamper: Array<[string, Tamper]> = [
    ['another backend named', s => { s[BACKEND_KEY] = 'jwt' }],
    ['an invalid user id', s => { s[USER_ID_KEY] = { id: 1 } }],
    ['no login nonce', s => { delete s[LOGIN_NONCE_KEY] }],
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
    change(session, map(store).get(`auth-login:${String(session[LOGIN_NONCE_KEY])}`)!)
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
