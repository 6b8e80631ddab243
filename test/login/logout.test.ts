import t from 'tap'
import fastifySession from '@fastify/session'
import { getUserFromSession } from '../../lib/index'
import { SECRET, TestUsers, build, cookieFrom, hashOf, loginAs } from '../helper'

type Store = InstanceType<typeof fastifySession.MemoryStore>

function entries (store: Store): string[] {
  return [...(store as unknown as { store: Map<string, unknown> }).store.keys()]
}

async function setup (t: Parameters<typeof build>[0], store: Store = new fastifySession.MemoryStore(), plugin: Record<string, unknown> = {}) {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const built = await build(t, {
    users,
    plugin: { session: { secret: SECRET, store, cookie: { secure: false } }, ...plugin },
    extend: app => {
      app.post('/logout-twice', async request => {
        await request.logout()
        await request.logout()
        return { user: request.user }
      })
      app.post('/logout-then-write', async request => {
        await request.logout()
        request.session.set('flash', 'bye')
        return {}
      })
    }
  })
  return { ...built, store }
}

t.test('logout flushes the session: store entry and login record gone, cookie expired, old cookie anonymous', async t => {
  const { app, store } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  t.equal(entries(store).length, 3, 'a session, its login record and the user\'s index of logins')
  const response = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { user: null }, 'request.user is null at once')
  t.same(entries(store), [], 'nothing is left in the store')
  const expired = response.cookies.find(c => c.name === 'sessionId')
  t.ok(expired, 'the response carries the session cookie')
  t.equal(expired?.value, '')
  t.ok(expired?.expires !== undefined && expired.expires.getTime() <= Date.now(), 'and it is expired')
  const replay = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(replay.statusCode, 401)
})

t.test('logout twice in one request, or with no login at all, is harmless', async t => {
  const { app, store } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const twice = await app.inject({ method: 'POST', url: '/logout-twice', headers: { cookie } })
  t.equal(twice.statusCode, 200)
  const anonymous = await app.inject({ method: 'POST', url: '/logout' })
  t.equal(anonymous.statusCode, 200)
  t.same(entries(store), [])
})

t.test('after logout the request has a fresh session the route may still write to', async t => {
  const { app, store } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const response = await app.inject({ method: 'POST', url: '/logout-then-write', headers: { cookie } })
  t.equal(response.statusCode, 200)
  const fresh = cookieFrom(response)
  t.ok(fresh, 'a new cookie for the new session')
  t.not(fresh, cookie)
  const whoami = await app.inject({ url: '/whoami', headers: { cookie: fresh! } })
  t.same(whoami.json(), { user: null, id: null })
  t.equal(entries(store).length, 1, 'only the new anonymous session')
})

t.test('a store that fails to destroy makes logout a 503, never a quiet success', async t => {
  const store = new fastifySession.MemoryStore()
  const { app } = await setup(t, store)
  const cookie = await loginAs(app, 'ann', 'pw')
  store.destroy = (_id, callback) => callback(new Error('store is read-only'))
  const response = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'FST_AUTH_STORE_ERROR')
  t.notMatch(response.body, /read-only/, 'the store\'s own message is not sent')
})

t.test('onLogout is awaited with the user id and backend', async t => {
  const seen: unknown[] = []
  const { app } = await setup(t, undefined, {
    onLogout: async ({ userId, backend }: { userId: unknown, backend: string }) => { seen.push([userId, backend]) }
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.same(seen, [[1, 'session']])
})

t.test('logout({ backend }) names the backend; after it the session reads as no user', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    extend: app => app.post('/named', async request => {
      await request.logout({ backend: 'session' })
      return { user: await getUserFromSession(request) }
    })
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  const response = await app.inject({ method: 'POST', url: '/named', headers: { cookie } })
  t.same(response.json(), { user: null })
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
})
