import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom } from '../helper'
import { JWT_SECRET, bearer } from '../jwt/helper'

// The plugin registered more than once in one app, in sibling encapsulated contexts, each with its own users
// (a shop's customers under /shop, its staff under /admin). Users who sign in by link or single sign-on have no
// password, so nothing in their auth hash tells one store's user 3 from the other's.

const AUTH_HASH_SECRET = 'an-auth-hash-secret-of-32-characters-or-more'

function stores (): { shop: TestUsers, admin: TestUsers } {
  const shop = new TestUsers()
  shop.add({ id: 3, username: 'a-customer' })
  const admin = new TestUsers()
  admin.add({ id: 3, username: 'the-admin' })
  return { shop, admin }
}

/** /shop and /admin, each with its own registration; `shared` runs first on the root (an app-wide session). */
async function twoAreas (t: { teardown: (fn: () => unknown) => void }, options: (area: 'shop' | 'admin') => Record<string, unknown>, shared?: (app: FastifyInstance) => Promise<void>): Promise<FastifyInstance> {
  const users = stores()
  const app = Fastify()
  t.teardown(() => app.close())
  await shared?.(app)
  for (const area of ['shop', 'admin'] as const) {
    app.register(async child => {
      await child.register(auth, { users: users[area], hashOptions: TEST_HASH_OPTIONS, ...options(area) })
      addRoutes(child)
      child.post('/token', async request => ({ token: await request.login({ userId: 3, backend: 'jwt' }) }))
    }, { prefix: `/${area}` })
  }
  await app.ready()
  return app
}

async function appSession (app: FastifyInstance): Promise<void> {
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, cookie: { secure: false } })
}

/**
 * The attack: log a customer in under /shop, then ask /admin who that is. 'refused' when the app cannot start;
 * otherwise whom /admin took the customer for (null for nobody).
 */
async function customerAsAdmin (t: { teardown: (fn: () => unknown) => void }, transport: 'session' | 'jwt', options: () => Record<string, unknown>, shared?: (app: FastifyInstance) => Promise<void>): Promise<unknown> {
  let app: FastifyInstance
  try {
    app = await twoAreas(t, options, shared)
  } catch (err) {
    if ((err as { code?: unknown }).code === 'FST_AUTH_INVALID_OPTION' && /authHashSecret/.test((err as Error).message)) return 'refused'
    throw err
  }
  const headers = transport === 'session'
    ? { cookie: cookieFrom(await app.inject({ method: 'POST', url: '/shop/login-id', payload: { userId: 3 } }))! }
    : bearer((await app.inject({ method: 'POST', url: '/shop/token' })).json().token)
  return (await app.inject({ url: '/admin/whoami', headers })).json().user?.username ?? null
}

t.test('two user stores reading one session with one auth hash key is refused at registration', async t => {
  t.equal(await customerAsAdmin(t, 'session', () => ({ authHashSecret: AUTH_HASH_SECRET }), appSession), 'refused')
})

t.test('two user stores taking tokens signed with one secret is refused at registration', async t => {
  t.equal(await customerAsAdmin(t, 'jwt', () => ({ defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })), 'refused')
})

t.test('with a key each, a login made in one area is nobody in the other', async t => {
  const session = await twoAreas(t, area => ({ authHashSecret: `${AUTH_HASH_SECRET}-${area}` }), appSession)
  const cookie = cookieFrom(await session.inject({ method: 'POST', url: '/shop/login-id', payload: { userId: 3 } }))!
  t.same((await session.inject({ url: '/shop/whoami', headers: { cookie } })).json().user.username, 'a-customer')
  t.equal((await session.inject({ url: '/admin/me', headers: { cookie } })).statusCode, 401, 'the session')

  const tokens = await twoAreas(t, area => ({ defaultBackend: 'jwt', jwt: { secret: `${JWT_SECRET}-${area}` } }))
  const token = (await tokens.inject({ method: 'POST', url: '/shop/token' })).json().token as string
  t.equal((await tokens.inject({ url: '/shop/me', headers: bearer(token) })).statusCode, 200)
  t.equal((await tokens.inject({ url: '/admin/me', headers: bearer(token) })).statusCode, 401, 'the token')
})

t.test('one user store in two places, and one key in two apps, are fine', async t => {
  const users = stores().shop
  const app = Fastify()
  t.teardown(() => app.close())
  for (const prefix of ['/a', '/b']) {
    app.register(async child => {
      await child.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })
      addRoutes(child)
    }, { prefix })
  }
  await t.resolves(app.ready())
  for (const area of ['shop', 'admin'] as const) {
    const other = Fastify()
    t.teardown(() => other.close())
    await other.register(auth, { users: stores()[area], hashOptions: TEST_HASH_OPTIONS, defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } })
    await t.resolves(other.ready(), `app ${area}: another app's registrations are not this one's`)
  }
})
