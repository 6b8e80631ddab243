import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyJwt from '@fastify/jwt'
import auth, { getUserId, getUserFromSession } from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, hashOf, loginAs, build, type TestUser } from '../helper'
import { JWT_SECRET, bearer, buildJwt, tokenFor, whoami } from './helper'
import fastifySession from '@fastify/session'

const APP_JWT_SECRET = 'the-apps-own-jwt-secret-for-its-own-tokens'

async function usersWithBobAndAlice (): Promise<TestUsers> {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  users.add({ id: 2, username: 'alice', password: await hashOf('pw2') })
  return users
}

/** Both backends: a browser on a session cookie, an API client on a bearer token, on the same routes. */
async function buildBoth (t: { teardown: (fn: () => unknown) => void }): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users: await usersWithBobAndAlice(),
    hashOptions: TEST_HASH_OPTIONS,
    session: { secret: SECRET, cookie: { secure: false } },
    jwt: { secret: JWT_SECRET }
  })
  addRoutes(app)
  app.post('/api/login', async request => {
    const { username, password } = request.body as { username: string, password: string }
    return { token: await request.login({ user: await request.authenticate(username, password), backend: 'jwt' }) }
  })
  app.post('/api/logout', async request => {
    await request.logout({ backend: 'jwt' })
    return { user: request.user }
  })
  app.get('/ids', async request => ({ session: getUserId(request, 'session'), jwt: getUserId(request, 'jwt') }))
  await app.ready()
  return app
}

async function apiToken (app: FastifyInstance, username: string, password: string): Promise<string> {
  return (await app.inject({ method: 'POST', url: '/api/login', payload: { username, password } })).json().token
}

t.test('a browser session and an API token work side by side on the same routes', async t => {
  const app = await buildBoth(t)
  const cookie = await loginAs(app, 'bob', 'pw')
  const token = await apiToken(app, 'alice', 'pw2')
  t.same(await whoami(app, { cookie }), { status: 200, id: 1 })
  t.same(await whoami(app, bearer(token)), { status: 200, id: 2 })
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).json().user.username, 'bob')
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).json().user.username, 'alice')
  t.same((await app.inject({ url: '/ids', headers: { cookie } })).json(), { session: 1, jwt: null })
  t.same((await app.inject({ url: '/ids', headers: bearer(token) })).json(), { session: null, jwt: 2 })
  const anonymous = await app.inject({ url: '/me' })
  t.equal(anonymous.headers['www-authenticate'], 'Bearer', 'the challenge tells API clients what to send')

  const apiLogin = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'alice', password: 'pw2' } })
  t.equal(cookieFrom(apiLogin), undefined, 'a token login does not create a session')

  t.same((await app.inject({ method: 'POST', url: '/api/logout', headers: bearer(token) })).json(), { user: null })
  t.same(await whoami(app, { cookie }), { status: 200, id: 1 }, 'a token logout leaves sessions alone')
  t.same((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).json(), { user: null })
  t.same(await whoami(app, { cookie }), { status: 200, id: null })
  t.same(await whoami(app, bearer(token)), { status: 200, id: 2 }, 'a session logout leaves tokens alone')
})

t.test('a request carrying both is judged by its token alone', async t => {
  const app = await buildBoth(t)
  const cookie = await loginAs(app, 'bob', 'pw')
  const token = await apiToken(app, 'alice', 'pw2')
  t.same(await whoami(app, { cookie, ...bearer(token) }), { status: 200, id: 2 })
  t.same(await whoami(app, { cookie, ...bearer(`${token}x`) }), { status: 200, id: null },
    'a refused token is not swapped for the session cookie riding along')
  t.same((await app.inject({ url: '/ids', headers: { cookie, ...bearer(token) } })).json(), { session: null, jwt: 2 },
    'the session riding along was not checked, so getUserId(\'session\') does not name it')
})

t.test('setDefaultAuthBackend("jwt") makes login() issue tokens', async t => {
  const app = await buildBoth(t)
  const session = await app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } })
  t.equal(session.json().token, null)
  t.ok(cookieFrom(session))
  app.setDefaultAuthBackend('jwt')
  const token = await app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } })
  t.type(token.json().token, 'string')
  t.equal(cookieFrom(token), undefined)
  t.same(await whoami(app, bearer(token.json().token)), { status: 200, id: 1 })
  t.same((await app.inject({ method: 'POST', url: '/logout', headers: bearer(token.json().token) })).json(), { user: null })
  t.throws(() => app.setDefaultAuthBackend('cookie' as never), { code: 'FST_AUTH_UNSUPPORTED_BACKEND' })
})

/** The app's own use of @fastify/jwt: a route that verifies the app's tokens with request.jwtVerify(). */
function appTokenRoutes (app: FastifyInstance, verify: 'jwtVerify' | 'appJwtVerify' = 'jwtVerify'): void {
  app.get('/app-token', async request => {
    const payload = await (request as unknown as Record<string, () => Promise<Record<string, unknown>>>)[verify]!()
    return { scope: payload.scope }
  })
}

t.test('an app that registered @fastify/jwt first starts, and each plugin takes only its own tokens', async t => {
  for (const appSecret of [APP_JWT_SECRET, JWT_SECRET]) {
    const { app } = await buildJwt(t, {}, {
      before: async app => { await app.register(fastifyJwt, { secret: appSecret }) },
      after: appTokenRoutes
    })
    const ours = await tokenFor(app)
    const theirs = app.jwt.sign({ scope: 'reports', _auth_user_id: 1, _auth_backend: 'jwt' })
    t.same((await app.inject({ url: '/app-token', headers: bearer(theirs) })).json(), { scope: 'reports' },
      'the app\'s own tokens verify with its @fastify/jwt')
    t.same(await whoami(app, bearer(theirs)), { status: 200, id: null }, 'the app\'s tokens never log a user in')
    t.same(await whoami(app, bearer(ours)), { status: 200, id: 1 })
    t.equal((await app.inject({ url: '/me', headers: bearer(ours) })).json().user.username, 'bob', 'request.user is ours')
    t.ok(Object.keys(app.jwt).some(key => /^fastifyAuthHelpers[0-9a-f]{12}_0$/.test(key)), 'our key sits in the app\'s fastify.jwt under a namespace of its own')
    if (appSecret !== JWT_SECRET) {
      t.equal((await app.inject({ url: '/app-token', headers: bearer(ours) })).statusCode, 401, 'and ours are not the app\'s')
    }
  }
})

t.test('registered after this plugin, @fastify/jwt needs a decoratorName other than "user"', async t => {
  const { app } = await buildJwt(t, {}, {
    after: async app => {
      await app.register(fastifyJwt, { secret: APP_JWT_SECRET, decoratorName: 'jwtPayload' })
      appTokenRoutes(app)
    }
  })
  t.same((await app.inject({ url: '/app-token', headers: bearer(app.jwt.sign({ scope: 'admin' })) })).json(), { scope: 'admin' })
  t.same(await whoami(app, bearer(await tokenFor(app))), { status: 200, id: 1 })

  const clash = Fastify()
  t.teardown(() => clash.close())
  await clash.register(auth, { users: new TestUsers(), defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })
  // What `clash.register(fastifyJwt, ...)` runs; @fastify/jwt throws from it synchronously, which avvio does not catch
  // (the app dies with an uncaught exception), so the plugin function is called here directly.
  t.throws(() => fastifyJwt.fastifyJwt(clash, { secret: APP_JWT_SECRET }, () => {}),
    { code: 'FST_ERR_DEC_ALREADY_PRESENT', message: /'user'/ }, 'both would own request.user: the README\'s order rule')
})

t.test('an app using @fastify/jwt namespaces, and two registrations of this plugin under one @fastify/jwt', async t => {
  const { app } = await buildJwt(t, {}, {
    before: async app => { await app.register(fastifyJwt, { secret: APP_JWT_SECRET, namespace: 'app' }) },
    after: app => appTokenRoutes(app, 'appJwtVerify')
  })
  const theirs = (app.jwt as unknown as Record<string, { sign: (payload: object) => string }>).app!.sign({ scope: 'ns' })
  t.same((await app.inject({ url: '/app-token', headers: bearer(theirs) })).json(), { scope: 'ns' })
  t.same(await whoami(app, bearer(await tokenFor(app))), { status: 200, id: 1 })

  const root = Fastify()
  t.teardown(() => root.close())
  await root.register(fastifyJwt, { secret: APP_JWT_SECRET })
  const users = await usersWithBobAndAlice()
  for (const prefix of ['/a', '/b']) {
    await root.register(async scope => {
      await scope.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })
      addRoutes(scope)
    }, { prefix })
  }
  await root.ready()
  const token = (await root.inject({ method: 'POST', url: '/a/login', payload: { username: 'bob', password: 'pw' } })).json().token
  t.same((await root.inject({ url: '/b/whoami', headers: bearer(token) })).json().user.id, 1)
})

// An app with both backends, where a request carries a session cookie and a token at once. The token decides
// `request.user`; these tests are about what the rest of the API says about the session riding along.

interface BothWithRecords {
  app: FastifyInstance
  ann: TestUser
  records: () => string[]
  drop: (key: string) => void
}

async function buildWithRecords (t: { teardown: (fn: () => unknown) => void }): Promise<BothWithRecords> {
  const users = new TestUsers()
  const ann = users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('pw2') })
  const entries = new Map<string, unknown>()
  const { app } = await build(t, {
    users,
    session: { store: new fastifySession.MemoryStore(entries as never) },
    plugin: { jwt: { secret: JWT_SECRET } },
    extend: app => {
      app.post('/api/token', async request => ({ token: await request.login({ userId: (request.body as { userId: number }).userId, backend: 'jwt' }) }))
      app.get('/ids', async request => ({
        user: (request.user as TestUser | null)?.id ?? null,
        session: request.getUserId('session'),
        jwt: request.getUserId('jwt'),
        byDefault: request.getUserId()
      }))
      app.get('/ids/checked', async request => {
        const user = await getUserFromSession(request) as TestUser | null
        return { sessionUser: user?.id ?? null, session: request.getUserId('session') }
      })
    }
  })
  return {
    app,
    ann,
    records: () => [...entries.keys()].filter(key => key.startsWith('auth-login:')),
    drop: key => { entries.delete(key) }
  }
}

t.test('beside a token, getUserId() never names a session login that has ended', async t => {
  const { app, ann, records, drop } = await buildWithRecords(t)
  const bobToken = (await app.inject({ method: 'POST', url: '/api/token', payload: { userId: 2 } })).json().token as string
  const endings: Record<string, () => Promise<void>> = {
    'the password changed': async () => { ann.password = await hashOf('changed') },
    'the user was deactivated': async () => { ann.isActive = false },
    // What a request in flight during logout leaves behind: the session revived, its login record gone.
    'the login record is gone': async () => { for (const key of records()) drop(key) }
  }
  for (const [ending, end] of Object.entries(endings)) {
    ann.password = await hashOf('pw')
    ann.isActive = true
    const cookie = await loginAs(app, 'ann', 'pw')
    await end()
    for (const [token, name] of [['junk', 'a refused token'], [bobToken, 'another user\'s token']] as const) {
      const ids = (await app.inject({ url: '/ids', headers: { cookie, ...bearer(token) } })).json()
      t.equal(ids.session, null, `${ending}, with ${name}: getUserId('session')`)
      // getUserId() follows the login that authenticated the request: the token's when it is valid.
      t.equal(ids.byDefault, token === bobToken ? 2 : null, `${ending}, with ${name}: getUserId() without a backend`)
    }
    t.same((await app.inject({ url: '/ids', headers: { cookie } })).json(),
      { user: null, session: null, jwt: null, byDefault: null }, `${ending}: the session alone is anonymous too`)
  }
})

t.test('beside a token, a live session login counts once the request has checked it', async t => {
  const { app } = await buildWithRecords(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const bobToken = (await app.inject({ method: 'POST', url: '/api/token', payload: { userId: 2 } })).json().token as string
  t.same((await app.inject({ url: '/ids', headers: { cookie, ...bearer(bobToken) } })).json(),
    { user: 2, session: null, jwt: 2, byDefault: 2 }, 'the token decided this request; the session was not read')
  t.same((await app.inject({ url: '/ids/checked', headers: { cookie, ...bearer(bobToken) } })).json(),
    { sessionUser: 1, session: 1 }, 'getUserFromSession() checks it, and then getUserId(\'session\') names it')
  t.same((await app.inject({ url: '/ids', headers: { cookie } })).json(),
    { user: 1, session: 1, jwt: null, byDefault: 1 }, 'alone, the session decides and is named')
})
