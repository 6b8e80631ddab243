// Row 1, session fixation: a cookie that existed before a login (an attacker may have planted it) must not be the
// cookie of the logged-in session. Checked after a first login, after logging in as another user on the same
// session, and after a password change that logs the user in again.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { cookieFrom, hashOf } from '../helper'
import { JsonStore, buildApp, sessionIdOf, whoIs } from './kit'

async function setup (t: { teardown: (fn: () => unknown) => void }) {
  const store = new JsonStore()
  const { app, users } = await buildApp(t, {
    session: { store },
    routes (app: FastifyInstance) {
      // Writes to the session of whoever calls it, so an anonymous visitor gets a cookie before logging in.
      app.post('/visit', async (request) => {
        request.session.set('cart', (request.body as { cart: string }).cart)
        return { ok: true }
      })
      // What @fastify/csrf-protection does with sessions: keep the CSRF secret in the session under `_csrf`.
      app.post('/csrf-secret', async (request) => {
        request.session.set('_csrf', (request.body as { secret: string }).secret)
        return { ok: true }
      })
      // The plugin's own password change, which logs the user in again on this request. (An app that writes the
      // hash itself and then calls login({ user }) is refused: that renewal no longer matches the stored user.)
      app.post('/change-password', { preHandler: app.requireUser }, async (request) => {
        const { current, password } = request.body as { current: string, password: string }
        await request.changePassword(current, password)
        return { ok: true }
      })
    }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('bob-pw') })
  return { app, store }
}

async function post (app: FastifyInstance, url: string, payload: object, cookie?: string) {
  return app.inject({ method: 'POST', url, payload, headers: cookie === undefined ? {} : { cookie } })
}

t.test('a cookie planted before login is anonymous after the login', async t => {
  const { app, store } = await setup(t)
  const planted = cookieFrom(await post(app, '/visit', { cart: 'attacker' }))
  t.ok(planted, 'the anonymous visit gets a cookie (the one an attacker would plant)')

  const login = await post(app, '/login', { username: 'alice', password: 'alice-pw' }, planted)
  t.equal(login.statusCode, 200)
  const loggedIn = cookieFrom(login)
  t.ok(loggedIn, 'login sets a cookie')
  t.not(sessionIdOf(loggedIn as string), sessionIdOf(planted as string), 'login gives a new session id')

  t.same(await whoIs(app, planted), { status: 200, username: null }, 'the planted cookie is anonymous')
  t.equal(store.sessionOf(planted as string), undefined, 'the pre-login session is gone from the store')
  t.same(await whoIs(app, loggedIn), { status: 200, username: 'alice' }, 'the new cookie is alice')
})

t.test('a signed cookie naming a session the store does not hold cannot choose the logged-in id', async t => {
  const { app, store } = await setup(t)
  const planted = cookieFrom(await post(app, '/visit', { cart: 'x' })) as string
  store.data.delete(sessionIdOf(planted))
  const loggedIn = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' }, planted)) as string
  t.not(sessionIdOf(loggedIn), sessionIdOf(planted))
  t.same(await whoIs(app, planted), { status: 200, username: null })
})

t.test('logging in as another user on the same session kills the first cookie and drops the first user\'s data', async t => {
  const { app, store } = await setup(t)
  const alice = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' })) as string
  const visit = await post(app, '/visit', { cart: 'alice-cart' }, alice)
  t.equal(visit.statusCode, 200)
  t.equal(store.records().length, 1)

  const bob = cookieFrom(await post(app, '/login', { username: 'bob', password: 'bob-pw' }, alice)) as string
  t.ok(bob)
  t.not(sessionIdOf(bob), sessionIdOf(alice))
  t.same(await whoIs(app, alice), { status: 200, username: null }, 'alice\'s cookie is neither alice nor bob now')
  t.same(await whoIs(app, bob), { status: 200, username: 'bob' })
  t.equal(store.sessionOf(bob)?.cart, undefined, 'bob does not inherit alice\'s session data')
  t.equal(store.records().length, 1, 'alice\'s login record was deleted, only bob\'s remains')
})

t.test('logging in again as the same user rotates the id and keeps the session data', async t => {
  const { app, store } = await setup(t)
  const first = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' })) as string
  await post(app, '/visit', { cart: 'kept' }, first)
  const second = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' }, first)) as string
  t.not(sessionIdOf(second), sessionIdOf(first))
  t.same(await whoIs(app, first), { status: 200, username: null })
  t.same(await whoIs(app, second), { status: 200, username: 'alice' })
  t.equal(store.sessionOf(second)?.cart, 'kept')
})

t.test('a password change that logs the user in again kills the cookie from before the change', async t => {
  const { app } = await setup(t)
  const before = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' })) as string
  const change = await post(app, '/change-password', { current: 'alice-pw', password: 'new-pw-long-enough' }, before)
  t.equal(change.statusCode, 200)
  const after = cookieFrom(change) as string
  t.ok(after)
  t.not(sessionIdOf(after), sessionIdOf(before))
  t.same(await whoIs(app, before), { status: 200, username: null }, 'the cookie from before the change is anonymous')
  t.same(await whoIs(app, after), { status: 200, username: 'alice' })

  const oldPassword = await post(app, '/login', { username: 'alice', password: 'alice-pw' })
  t.equal(oldPassword.statusCode, 401, 'the old password no longer logs in')
})

t.test('a CSRF secret planted before login does not survive the login (Django rotates it too)', async t => {
  const { app, store } = await setup(t)
  // The attacker's own anonymous session, whose CSRF secret (and so valid CSRF tokens) the attacker knows, planted
  // in the victim's browser together with some harmless data.
  const planted = cookieFrom(await post(app, '/visit', { cart: 'book' })) as string
  await post(app, '/csrf-secret', { secret: 'known-to-the-attacker' }, planted)
  t.equal(store.sessionOf(planted)?._csrf, 'known-to-the-attacker')

  const loggedIn = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' }, planted)) as string
  t.equal(store.sessionOf(loggedIn)?._csrf, undefined, 'the logged-in session does not carry the planted CSRF secret')
  t.equal(store.sessionOf(loggedIn)?.cart, 'book', 'while the visitor\'s other data is kept')

  await post(app, '/csrf-secret', { secret: 'alice-secret' }, loggedIn)
  const again = cookieFrom(await post(app, '/login', { username: 'alice', password: 'alice-pw' }, loggedIn)) as string
  t.equal(store.sessionOf(again)?._csrf, undefined, 'every login rotates it, also the same user\'s')
})
