import t from 'tap'
import Fastify from 'fastify'
import auth from '../../lib/index'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { TEST_HASH_OPTIONS, TestUsers, hashOf } from '../helper'
import { JWT_SECRET, REFRESH_PATH, loginPair, me, refreshApp, refreshWith } from './kit'

const COOKIE = 'refresh'

async function users (): Promise<TestUsers> {
  const store = new TestUsers()
  store.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  return store
}

function setCookie (response: { headers: Record<string, unknown> }, name: string): string | undefined {
  const header = response.headers['set-cookie']
  const all = Array.isArray(header) ? header as string[] : typeof header === 'string' ? [header] : []
  return all.find(line => line.startsWith(`${name}=`))
}

t.test('the refresh cookie: HttpOnly, Secure, SameSite=Strict, scoped to the refresh route, rotated on each refresh', async t => {
  const app = await refreshApp(t, {
    loginStore: createMemoryLoginStore(),
    users: await users(),
    refresh: { expiresIn: '7d', cookie: { name: COOKIE, path: REFRESH_PATH } },
    jwt: { cookie: { name: 'token', secure: false } }
  })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'bob', password: 'pw' } })
  const line = setCookie(login, COOKIE) as string
  t.ok(line, 'login sets the refresh cookie')
  t.match(line, /; Max-Age=604800(;|$)/)
  t.match(line, /; Path=\/auth\/refresh(;|$)/)
  t.match(line, /; HttpOnly(;|$)/)
  t.match(line, /; Secure(;|$)/)
  t.match(line, /; SameSite=Strict(;|$)/)
  const value = (login.cookies.find(c => c.name === COOKIE) as { value: string }).value
  t.equal(value, login.json().refreshToken, 'the cookie holds the token login issued')

  const renewed = await app.inject({ method: 'POST', url: REFRESH_PATH, cookies: { [COOKIE]: value } })
  t.equal(renewed.statusCode, 200, 'a refresh from the cookie alone')
  const next = (renewed.cookies.find(c => c.name === COOKIE) as { value: string }).value
  t.equal(next, renewed.json().refreshToken, 'the new refresh token replaces the cookie')
  t.equal((renewed.cookies.find(c => c.name === 'token') as { value: string }).value, renewed.json().accessToken, 'and the new access token the access cookie')
  t.equal((await app.inject({ url: '/me', cookies: { token: renewed.json().accessToken } })).statusCode, 200)

  const stale = await app.inject({ method: 'POST', url: REFRESH_PATH, cookies: { [COOKIE]: 'junk' } })
  t.equal(stale.statusCode, 401)
  t.equal(stale.json().code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  t.match(setCookie(stale, COOKIE), /^refresh=;.*Path=\/auth\/refresh/, 'a refused cookie is cleared, on its own path')
  const none = await app.inject({ method: 'POST', url: REFRESH_PATH })
  t.equal(none.json().code, 'FST_AUTH_INVALID_REFRESH_TOKEN', 'no cookie and no body: 401')
  t.equal(setCookie(none, COOKIE), undefined, 'and nothing to clear')

  const out = await app.inject({ method: 'POST', url: '/logout', cookies: { token: renewed.json().accessToken } })
  t.match(setCookie(out, COOKIE), /^refresh=;.*Path=\/auth\/refresh/, 'logout clears the refresh cookie though the browser did not send it')
  t.equal((await app.inject({ method: 'POST', url: REFRESH_PATH, cookies: { [COOKIE]: next } })).statusCode, 401, 'and ended its login')
  const anonymous = await app.inject({ method: 'POST', url: '/logout' })
  t.equal(setCookie(anonymous, COOKIE), undefined, 'an anonymous logout sets no cookie')
})

t.test('a body token is used before the cookie; remember: false gives a browser-session refresh cookie', async t => {
  const app = await refreshApp(t, {
    loginStore: createMemoryLoginStore(),
    users: await users(),
    refresh: { cookie: { name: COOKIE, path: REFRESH_PATH, secure: false } }
  })
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'bob', password: 'pw', remember: false } })
  const line = setCookie(login, COOKIE) as string
  t.notMatch(line, /Max-Age|Expires/, 'no lifetime on the cookie')
  t.notMatch(line, /Secure/, '`secure: false` is honoured for plain-http development')
  const renewed = await app.inject({ method: 'POST', url: REFRESH_PATH, cookies: { [COOKIE]: 'junk' }, payload: { refreshToken: login.json().refreshToken } })
  t.equal(renewed.statusCode, 200, 'the body token, not the junk cookie')
  t.notMatch(setCookie(renewed, COOKIE), /Max-Age/, 'the renewed cookie keeps the login\'s remember: false')
})

t.test('without jwt.refresh, login resolves to the token as before and there is nothing to refresh', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users: await users(), hashOptions: TEST_HASH_OPTIONS, defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })
  app.post('/auth/login', async (request) => {
    const user = await request.authenticate('bob', 'pw')
    return { token: await request.login({ user }), issued: request.issuedTokens() }
  })
  app.post(REFRESH_PATH, async (request) => await request.refresh('x'))
  app.get('/issued', async (request) => ({ issued: request.issuedTokens() }))
  const login = (await app.inject({ method: 'POST', url: '/auth/login' })).json()
  t.type(login.token, 'string')
  t.equal(login.issued, null)
  const refused = await app.inject({ method: 'POST', url: REFRESH_PATH })
  t.equal(refused.statusCode, 500, 'a programming error, not the client\'s')
  t.equal(refused.json().code, 'FST_AUTH_INVALID_ARGUMENT')
  t.match(refused.json().message, /jwt\.refresh/)

  const sessions = Fastify()
  t.teardown(() => sessions.close())
  await sessions.register(auth, { users: await users(), hashOptions: TEST_HASH_OPTIONS, session: { secret: 'a-test-secret-that-is-32-chars-long!!' } })
  sessions.get('/issued', async (request) => ({ issued: request.issuedTokens() }))
  t.equal((await sessions.inject({ url: '/issued' })).json().issued, null, 'no JWT backend: null')
})

t.test('refresh with a login made without a refresh token is refused', async t => {
  const loginStore = createMemoryLoginStore()
  const store = await users()
  const plain = Fastify()
  t.teardown(() => plain.close())
  await plain.register(auth, { users: store, hashOptions: TEST_HASH_OPTIONS, defaultBackend: 'jwt', loginStore, jwt: { secret: JWT_SECRET } })
  plain.post('/auth/login', async (request) => ({ token: await request.login({ user: await request.authenticate('bob', 'pw') }) }))
  await plain.ready()
  const token = (await plain.inject({ method: 'POST', url: '/auth/login' })).json().token as string
  const sid = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString()).sid as string
  const app = await refreshApp(t, { loginStore, users: store })
  t.equal((await refreshWith(app, `${sid}.${'A'.repeat(43)}`)).code, 'FST_AUTH_INVALID_REFRESH_TOKEN', 'its record has no refresh hash')
  t.equal(await me(app, token), 200, 'and it was not ended')
})

t.test('registration: jwt.refresh needs a login store with swap, and its options are checked', async t => {
  const base = { users: await users(), hashOptions: TEST_HASH_OPTIONS, defaultBackend: 'jwt' }
  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['no loginStore', { jwt: { secret: JWT_SECRET, refresh: true } }, /`jwt\.refresh` needs `loginStore`/],
    ['a loginStore without swap', { loginStore: { ...createMemoryLoginStore(), swap: undefined }, jwt: { secret: JWT_SECRET, refresh: {} } }, /with `swap`/],
    ['not an object', { jwt: { secret: JWT_SECRET, refresh: 'yes' } }, /`jwt\.refresh` must be true or an object/],
    ['an unknown option', { jwt: { secret: JWT_SECRET, refresh: { grace: 5 } } }, /`jwt\.refresh\.grace` is not an option/],
    ['a bad expiresIn', { jwt: { secret: JWT_SECRET, refresh: { expiresIn: '5 days' } } }, /`jwt\.refresh\.expiresIn` must be/],
    ['a bad onReuse', { jwt: { secret: JWT_SECRET, refresh: { onReuse: 'alert' } } }, /`jwt\.refresh\.onReuse` must be a function/],
    ['a cookie that is not an object', { jwt: { secret: JWT_SECRET, refresh: { cookie: 'rt' } } }, /`jwt\.refresh\.cookie` must be an object/],
    ['a bad cookie name', { jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'a b', path: '/r' } } } }, /cookie\.name` must be a valid/],
    ['the access cookie\'s name', { jwt: { secret: JWT_SECRET, cookie: { name: 'token' }, refresh: { cookie: { name: 'token', path: '/r' } } } }, /another of the plugin's cookies/],
    ['the session cookie\'s name', { session: { secret: 'a-test-secret-that-is-32-chars-long!!' }, jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'sessionId', path: '/r' } } } }, /another of the plugin's cookies/],
    ['no path', { jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'rt' } } } }, /cookie\.path` is required/],
    ['httpOnly: false', { jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'rt', path: '/r', httpOnly: false } } } }, /httpOnly` cannot be false/],
    ['sameSite: lax', { jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'rt', path: '/r', sameSite: 'lax' } } } }, /sameSite` is always "strict"/],
    ['maxAge', { jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'rt', path: '/r', maxAge: 5 } } } }, /maxAge` is not supported/],
    ['signed', { jwt: { secret: JWT_SECRET, refresh: { cookie: { name: 'rt', path: '/r', signed: true } } } }, /signed` is not supported/]
  ]
  for (const [name, options, message] of cases) {
    const app = Fastify()
    t.teardown(() => app.close())
    await t.rejects(app.register(auth, { ...base, ...options } as never).ready(), message, name)
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await t.resolves(app.register(auth, { ...base, loginStore: createMemoryLoginStore(), jwt: { secret: JWT_SECRET, refresh: false } } as never).ready(), 'refresh: false is off')
})

t.test('an onReuse listener that throws is logged; the family is still ended and the answer is still 401', async t => {
  const app = await refreshApp(t, {
    loginStore: createMemoryLoginStore(),
    users: await users(),
    refresh: { onReuse: () => { throw new Error('pager down') } }
  })
  const first = await loginPair(app)
  const second = (await refreshWith(app, first.refreshToken)).pair as { accessToken: string }
  t.equal((await refreshWith(app, first.refreshToken)).code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  t.equal(await me(app, second.accessToken), 401)
})

t.test('a record whose store dropped the empty list of spent hashes still refreshes, and then detects reuse', async t => {
  const loginStore = createMemoryLoginStore()
  const app = await refreshApp(t, { loginStore, users: await users() })
  const pair = await loginPair(app)
  const key = `auth-login:${pair.refreshToken.split('.')[0] as string}`
  const { refreshSpent: _dropped, ...record } = await loginStore.get(key) as NonNullable<Awaited<ReturnType<typeof loginStore.get>>>
  await loginStore.create(key, record, record.expiresAt)
  const renewed = await refreshWith(app, pair.refreshToken)
  t.equal(renewed.statusCode, 200)
  t.equal((await refreshWith(app, pair.refreshToken)).code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  t.equal(await me(app, (renewed.pair as { accessToken: string }).accessToken), 401, 'the replay was seen as reuse')
})
