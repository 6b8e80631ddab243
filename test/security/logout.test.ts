// Row 2, logout is complete: the session entry and the login record leave the store, the response expires the
// cookie, and the old cookie replayed afterwards is anonymous and brings nothing back.
import t from 'tap'
import { MemoryStore } from '@fastify/session'
import type { FastifyInstance } from 'fastify'
import { cookieFrom, hashOf, loginAs } from '../helper'
import { JsonStore, buildApp, sessionIdOf, setCookieHeaders, whoIs } from './kit'

async function setup (t: { teardown: (fn: () => unknown) => void }, store: object = new JsonStore()) {
  const { app, users } = await buildApp(t, {
    session: { store },
    routes (app: FastifyInstance) {
      // An app that leaves a message for the next page after logging out.
      app.post('/logout-with-flash', async (request) => {
        await request.logout()
        request.session.set('flash', 'bye')
        return { user: request.user }
      })
    }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  return { app }
}

function expiresCookie (header: string, name = 'sessionId'): boolean {
  return header.startsWith(`${name}=;`) && /Max-Age=0/i.test(header) && /Expires=Thu, 01 Jan 1970/i.test(header)
}

t.test('logout empties the store, expires the cookie, and the old cookie is anonymous', async t => {
  const store = new JsonStore()
  const { app } = await setup(t, store)
  const cookie = await loginAs(app, 'alice', 'alice-pw')
  t.equal(store.sessions().length, 1)
  t.equal(store.records().length, 1)

  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(logout.statusCode, 200)
  t.same(logout.json(), { user: null })
  const headers = setCookieHeaders(logout)
  t.equal(headers.length, 1, 'one Set-Cookie')
  t.ok(expiresCookie(headers[0] as string), `it expires the cookie: ${headers[0]}`)
  t.same(store.sessions(), [], 'no session entry is left')
  t.same(store.records(), [], 'no login record is left')

  const me = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(me.statusCode, 401, 'the old cookie is refused by requireUser')
  t.same(await whoIs(app, cookie), { status: 200, username: null })
  t.same(store.sessions(), [], 'replaying the old cookie writes nothing back')
  t.same(store.records(), [])
})

t.test('with @fastify/session\'s MemoryStore too', async t => {
  const store = new MemoryStore() as MemoryStore & { store: Map<string, unknown> }
  const { app } = await setup(t, store)
  const cookie = await loginAs(app, 'alice', 'alice-pw')
  t.equal(store.store.size, 3, 'a session, its login record and the user\'s index of logins')
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(logout.statusCode, 200)
  t.equal(store.store.size, 0)
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
})

t.test('a route that writes to the session after logout gets a new anonymous session, not the old one', async t => {
  const store = new JsonStore()
  const { app } = await setup(t, store)
  const cookie = await loginAs(app, 'alice', 'alice-pw')
  const logout = await app.inject({ method: 'POST', url: '/logout-with-flash', headers: { cookie } })
  t.equal(logout.statusCode, 200)
  const fresh = cookieFrom(logout) as string
  t.ok(fresh, 'the flash message needs a session, so a cookie is set')
  t.not(sessionIdOf(fresh), sessionIdOf(cookie))
  const headers = setCookieHeaders(logout)
  t.equal(headers.length, 1, 'the new cookie replaces the old one')
  t.notOk(headers.some(header => header.includes(sessionIdOf(cookie))), 'the old session id is not handed back')
  t.same(store.records(), [])
  t.same(store.sessions(), [sessionIdOf(fresh)])
  t.equal(store.sessionOf(fresh)?._auth_user_id, undefined)
  t.same(await whoIs(app, fresh), { status: 200, username: null })
  t.same(await whoIs(app, cookie), { status: 200, username: null })
})

t.test('logging out with no login leaves nothing in the store', async t => {
  const store = new JsonStore()
  const { app } = await setup(t, store)
  const logout = await app.inject({ method: 'POST', url: '/logout' })
  t.equal(logout.statusCode, 200)
  t.same(setCookieHeaders(logout), [])
  t.equal(store.data.size, 0)
})
