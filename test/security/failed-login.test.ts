// Issue 11, item 8: "a failed request leaves no login behind" ran in onError, so a route that sent a 5xx itself after
// login() (`reply.code(500).send(...)`) handed out a live session cookie, while the JWT backend, which looked at the
// status in onSend, withheld its token cookie. The rule is now decided on the status the response goes out with, in
// one place for both backends: no session cookie, no token cookie, and the login record deleted.
import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../../lib/index'
import { JWT_SECRET } from '../jwt/helper'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, hashOf } from '../helper'
import { JsonStore, buildApp, loggedInSessions, setCookieHeaders } from './kit'

type Ending = 'sends 500' | 'sends 503' | 'throws' | 'sends 400'
const ENDINGS: Ending[] = ['sends 500', 'sends 503', 'throws', 'sends 400']

function failingRoutes (app: FastifyInstance): void {
  app.post('/login-then-500-with-cookies', async (request, reply) => {
    const { username, password } = request.body as { username: string, password: string }
    await request.login({ user: await request.authenticate(username, password) })
    // One cookie through @fastify/cookie, one written as a header by hand.
    reply.setCookie('theme', 'dark')
    reply.header('set-cookie', 'lang=en; Path=/')
    return reply.code(500).send({ error: 'failed after login()' })
  })
  for (const ending of ENDINGS) {
    app.post(`/login-then/${ending.replace(' ', '-')}`, async (request, reply) => {
      const { username, password, backend } = request.body as { username: string, password: string, backend?: string }
      await request.login({ user: await request.authenticate(username, password), backend })
      if (ending === 'throws') throw new Error('the route failed after login()')
      return reply.code(Number(ending.slice(-3))).send({ error: 'failed after login()' })
    })
  }
}

async function sessionApp (t: tap.Test, ownSession = false): Promise<{ app: FastifyInstance, store: JsonStore }> {
  const store = new JsonStore(true)
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  if (!ownSession) return { app: (await buildApp(t, { users, session: { store }, routes: failingRoutes })).app, store }
  // The app registered @fastify/session itself, before the plugin: its onSend runs first and has already saved the
  // session and set its cookie by the time the plugin sees the status.
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, store, cookie: { secure: false }, saveUninitialized: false })
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, authHashSecret: `${SECRET}-auth` })
  addRoutes(app)
  failingRoutes(app)
  await app.ready()
  return { app, store }
}

for (const ownSession of [false, true]) {
  const registered = ownSession ? 'the app\'s own @fastify/session' : 'the plugin\'s @fastify/session'
  t.test(`session backend, ${registered}: a 5xx after login() leaves no login, however the route ends`, async t => {
    for (const ending of ENDINGS) {
      const { app, store } = await sessionApp(t, ownSession)
      const response = await app.inject({ method: 'POST', url: `/login-then/${ending.replace(' ', '-')}`, payload: { username: 'alice', password: 'alice-pw' } })
      const cookies = setCookieHeaders(response).filter(header => !/^sessionId=;/.test(header))
      if (ending === 'sends 400') {
        // A 4xx is the route's answer, not a failure: the login it made stands (control).
        t.equal(response.statusCode, 400)
        t.equal(cookies.length, 1, `${ending}: the login's cookie is sent`)
        t.same(await loggedInSessions(app, store), ['alice'])
        continue
      }
      t.ok(response.statusCode >= 500, `${ending}: a 5xx`)
      t.same(cookies, [], `${ending}: no session cookie is handed out`)
      t.same(store.records(), [], `${ending}: the login record is deleted`)
      t.same(await loggedInSessions(app, store), [], `${ending}: no stored session authenticates as anyone`)
    }
  })
}

t.test('JWT cookie: a 5xx after a token login sends no token cookie, however the route ends', async t => {
  for (const ending of ENDINGS) {
    const { app, users } = await buildApp(t, {
      plugin: { jwt: { secret: JWT_SECRET, cookie: { name: 'token', secure: false } } },
      routes: failingRoutes
    })
    users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
    const response = await app.inject({
      method: 'POST', url: `/login-then/${ending.replace(' ', '-')}`, payload: { username: 'alice', password: 'alice-pw', backend: 'jwt' }
    })
    const tokens = response.cookies.filter(cookie => cookie.name === 'token' && cookie.value !== '')
    t.equal(tokens.length, ending === 'sends 400' ? 1 : 0, `${ending}: ${ending === 'sends 400' ? 'the token cookie is sent (control)' : 'no token cookie'}`)
  }
})

t.test('both backends: one 5xx after both logins leaves neither the session nor the token cookie', async t => {
  const store = new JsonStore(true)
  const { app, users } = await buildApp(t, {
    session: { store },
    plugin: { jwt: { secret: JWT_SECRET, cookie: { name: 'token', secure: false } } },
    routes: (app) => {
      app.post('/both-then-500', async (request, reply) => {
        const { username, password } = request.body as { username: string, password: string }
        const user = await request.authenticate(username, password)
        await request.login({ user })
        await request.login({ user, backend: 'jwt' })
        return reply.code(500).send({ error: 'failed' })
      })
    }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  const response = await app.inject({ method: 'POST', url: '/both-then-500', payload: { username: 'alice', password: 'alice-pw' } })
  t.equal(response.statusCode, 500)
  t.same(setCookieHeaders(response), [], 'no cookie at all')
  t.same(store.records(), [])
  t.same(await loggedInSessions(app, store), [])
})

t.test('a failed login\'s response keeps the other cookies it sets, and drops only the session\'s', async t => {
  for (const ownSession of [false, true]) {
    const { app, store } = await sessionApp(t, ownSession)
    const response = await app.inject({ method: 'POST', url: '/login-then-500-with-cookies', payload: { username: 'alice', password: 'alice-pw' } })
    const names = response.cookies.filter(cookie => cookie.value !== '').map(cookie => cookie.name).sort()
    t.same(names, ['lang', 'theme'], `${ownSession ? 'own' : 'plugin\'s'} @fastify/session: the app's cookies stay, the session's goes`)
    t.same(await loggedInSessions(app, store), [])
  }
})
