// Refresh tokens and "sign out everywhere" in every JWT setup the docs present: a tossed refresh cookie, the
// documented `isRevoked` rule against a refresh, a refresh racing a logout, and sessions with tokens no store keeps.
import t from 'tap'
import Fastify from 'fastify'
import auth from '../../lib/index'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import type { LoginStore } from '../../lib/login-store/contract'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, hashOf } from '../helper'
import { JWT_SECRET, REFRESH_PATH, loginPair, me, refreshApp, refreshWith, type ReuseEvent } from '../refresh/kit'
import { deferred } from './kit'

async function usersWithBob (): Promise<TestUsers> {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  users.add({ id: 2, username: 'mallory', password: await hashOf('mallory-pw') })
  return users
}

t.test('a refresh with two refresh cookies spends neither: a sibling subdomain cannot hand the victim its login', async t => {
  const app = await refreshApp(t, { loginStore: createMemoryLoginStore(), users: await usersWithBob(), refresh: { cookie: { name: 'refresh', path: REFRESH_PATH } } })
  const login = async (username: string, password: string): Promise<string> => {
    const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password } })
    return cookieFrom(response, 'refresh') as string
  }
  const victim = await login('bob', 'pw')
  const tossed = await login('mallory', 'mallory-pw')
  for (const cookie of [`${tossed}; ${victim}`, `${victim}; ${tossed}`, `${tossed}; foo=1; ${tossed}`]) {
    const response = await app.inject({ method: 'POST', url: REFRESH_PATH, headers: { cookie } })
    t.equal(response.statusCode, 401, 'refused')
    t.equal(response.json().code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
    t.notOk(response.json().accessToken, 'no access token of anyone\'s')
    t.match(response.headers['set-cookie'], /refresh=;/, 'the refresh cookie is dropped')
  }
  const alone = await app.inject({ method: 'POST', url: REFRESH_PATH, headers: { cookie: victim } })
  t.equal(alone.statusCode, 200, 'the victim\'s own cookie, alone, still refreshes: neither family was spent or ended')
  t.equal(alone.json().user.id, 1)
})

t.test('the documented "log out everywhere" isRevoked rule refuses a refresh of a login made before the cut-off', async t => {
  const loggedOutAt = new Map<unknown, number>()
  const app = await refreshApp(t, {
    loginStore: createMemoryLoginStore(),
    users: await usersWithBob(),
    jwt: {
      isRevoked (claims: { _auth_user_id: unknown, _auth_login_iat: number }) {
        return claims._auth_login_iat < (loggedOutAt.get(claims._auth_user_id) ?? 0)
      }
    }
  })
  const pair = await loginPair(app)
  t.equal(await me(app, pair.accessToken), 200)
  loggedOutAt.set(1, Math.floor(Date.now() / 1000) + 1)
  t.equal(await me(app, pair.accessToken), 401, 'the access token is refused')
  const refreshed = await refreshWith(app, pair.refreshToken)
  t.equal(refreshed.statusCode, 401, 'and so is the refresh that would replace it')
  t.equal(refreshed.code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  loggedOutAt.clear()
  t.equal((await refreshWith(app, pair.refreshToken)).statusCode, 401, 'the refused family was ended, not only refused once')
  const later = await loginPair(app)
  t.equal((await refreshWith(app, later.refreshToken)).statusCode, 200, 'a login made after the cut-off refreshes')
})

t.test('a refresh that loses its race to a logout is a plain 401: no reuse alarm, one "logout" end', async t => {
  const inner = createMemoryLoginStore() as LoginStore & Required<Pick<LoginStore, 'swap'>>
  const gate = deferred()
  const reached = deferred()
  const store = Object.create(inner) as typeof inner
  store.swap = async (...args) => {
    reached.resolve()
    await gate.promise
    return await inner.swap(...args)
  }
  const reuses: ReuseEvent[] = []
  const ended: string[] = []
  const app = await refreshApp(t, { loginStore: store, users: await usersWithBob(), reuses, plugin: { onLoginEnded: (event: { reason: string }) => { ended.push(event.reason) } } })
  const pair = await loginPair(app)
  const refreshing = refreshWith(app, pair.refreshToken)
  await reached.promise
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${pair.accessToken}` } })
  t.equal(logout.statusCode, 200)
  gate.resolve()
  const refreshed = await refreshing
  t.equal(refreshed.statusCode, 401)
  t.same(reuses, [], 'onReuse is not raised: nobody used the token twice')
  t.same(ended, ['logout'], 'the login ended once, by the logout')
})

t.test('sessions with tokens no store keeps: "sign out everywhere" refuses rather than report sessions only', async t => {
  const users = await usersWithBob()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, session: { secret: SECRET, cookie: { secure: false } }, jwt: { secret: JWT_SECRET } } as never)
  addRoutes(app)
  app.post('/token', async (request) => ({ token: await request.login({ user: await request.authenticate('bob', 'pw'), backend: 'jwt' }) }))
  app.post('/end-others', async (request) => ({ ended: await request.endOtherLogins() }))
  app.get('/logins', async (request) => await request.listLogins())
  app.post('/end-all', async () => ({ ended: await app.endLogins(1) }))
  await app.ready()
  const session = cookieFrom(await app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } })) as string
  const token = (await app.inject({ method: 'POST', url: '/token' })).json().token as string
  for (const url of ['/end-others', '/logins', '/end-all']) {
    const response = await app.inject({ method: url === '/logins' ? 'GET' : 'POST', url, headers: { cookie: session } })
    t.equal(response.statusCode, 500, `${url} is refused`)
    t.equal(response.json().code, 'FST_AUTH_LOGIN_STORE_UNSUPPORTED')
    t.match(response.json().message, /loginStore/, 'naming what to add')
  }
  await t.rejects(app.endLogins(1), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED' })
  t.equal(await me(app, token), 200, 'nothing claimed to end the token, and nothing did')

  const kept = Fastify()
  t.teardown(() => kept.close())
  await kept.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, session: { secret: SECRET, cookie: { secure: false } }, jwt: { secret: JWT_SECRET }, loginStore: createMemoryLoginStore() } as never)
  addRoutes(kept)
  kept.post('/token', async (request) => ({ token: await request.login({ user: await request.authenticate('bob', 'pw'), backend: 'jwt' }) }))
  await kept.ready()
  await kept.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } })
  const keptToken = (await kept.inject({ method: 'POST', url: '/token' })).json().token as string
  t.equal(await kept.endLogins(1), 2, 'with a login store, the session and the token both end')
  t.equal(await me(kept, keptToken), 401)
})
