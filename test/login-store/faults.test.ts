import t from 'tap'
import { MemoryStore } from '@fastify/session'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../../lib/index'
import { build, hashOf, loginAs, TEST_HASH_OPTIONS, TestUsers } from '../helper'
import { JWT_SECRET } from '../jwt/helper'
import { sessionStoreLogins } from '../../lib/login-store/memory'
import { timedLoginStore, type LoginStore } from '../../lib/login-store/contract'

// The app's own login store, failing on purpose: every failure and every hang is a 503 with a stable code, never a
// user by mistake and never a silent anonymous; and a session store that cannot do what a feature needs says so.

/** A complete, synchronous login store whose methods can be told to throw, reject or hang. */
function faultyStore (): { store: LoginStore, breakMethod: (name: string, mode: 'throw' | 'reject' | 'hang') => void, heal: () => void } {
  const inner = sessionStoreLogins(new MemoryStore() as never, true, Date.now) as Required<LoginStore>
  const broken = new Map<string, 'throw' | 'reject' | 'hang'>()
  const store: Record<string, unknown> = {}
  for (const name of Object.keys(inner) as Array<keyof LoginStore>) {
    store[name] = (...args: unknown[]) => {
      const mode = broken.get(name)
      if (mode === 'throw') throw new Error(`${name} threw (secret host 10.0.0.1)`)
      if (mode === 'reject') return Promise.reject(new Error(`${name} rejected (secret host 10.0.0.1)`))
      if (mode === 'hang') return new Promise(() => {})
      return (inner[name] as (...a: unknown[]) => unknown)(...args)
    }
  }
  return { store: store as unknown as LoginStore, breakMethod: (name, mode) => broken.set(name, mode), heal: () => broken.clear() }
}

async function setup (t: Parameters<typeof build>[0], loginStore: LoginStore) {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users, plugin: { loginStore }, session: { storeTimeout: 100 } })
  return { app }
}

for (const mode of ['throw', 'reject', 'hang'] as const) {
  t.test(`a login store whose calls ${mode}: 503, nothing sent from its error, and the login works again after`, async t => {
    const faulty = faultyStore()
    const { app } = await setup(t, faulty.store)
    const cookie = await loginAs(app, 'ann', 'pw')
    const code = mode === 'hang' ? 'FST_AUTH_STORE_TIMEOUT' : 'FST_AUTH_STORE_ERROR'

    faulty.breakMethod('get', mode)
    const read = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(read.statusCode, 503, 'reading the record')
    t.equal(read.json().code, code)
    t.notMatch(read.body, /10\.0\.0\.1/, 'the store\'s message is not sent')
    faulty.heal()
    t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200, 'the login is intact')

    faulty.breakMethod('create', mode)
    const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
    t.equal(login.statusCode, 503, 'writing a new record')
    t.equal(login.json().code, code)
    t.notOk(login.cookies.some(c => c.name === 'sessionId' && c.value !== ''), 'no session cookie for a failed login')
    faulty.heal()

    faulty.breakMethod('removeEntry', mode)
    const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
    t.equal(logout.statusCode, 503, 'a logout that could not end the login says so')
    faulty.heal()
    t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
    t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, 'and then it is ended')
  })
}

t.test('timedLoginStore passes synchronous answers on as they are, and wraps only what the store has', async t => {
  const record = { id: 'x' } as never
  const timed = timedLoginStore({ get: () => record, create: async () => {}, delete: async () => {} }, 50)
  t.equal(timed.get('k'), record, 'a synchronous get stays synchronous')
  t.equal(timed.take, undefined, 'no capability appears that the store lacks')
  const plain = timedLoginStore({ get: () => null, create: () => undefined as never, delete: async () => {} }, 50)
  t.ok(plain.create('k', record, 0) instanceof Promise, 'a method that answers a plain value still answers a promise')
})

t.test('with a session store that is not @fastify/session\'s MemoryStore and no loginStore', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  // An express-session store answering later, as connect-redis does.
  class LaterStore extends MemoryStore {}
  const store = new LaterStore()
  const later = { get: store.get.bind(store), set: store.set.bind(store), destroy: store.destroy.bind(store) }
  const asyncStore = {
    get: (id: string, cb: (e?: unknown, v?: unknown) => void) => setImmediate(() => later.get(id, cb)),
    set: (id: string, v: unknown, cb: (e?: unknown) => void) => setImmediate(() => later.set(id, v as never, cb)),
    destroy: (id: string, cb: (e?: unknown) => void) => setImmediate(() => later.destroy(id, cb))
  }
  const { app } = await build(t, {
    users,
    session: { store: asyncStore },
    extend: (app) => {
      app.get('/logins', async (request) => await request.listLogins())
      app.post('/others', async (request) => ({ ended: await request.endOtherLogins() }))
      app.post('/end', async (request) => ({ ended: await request.endLogin('A'.repeat(22)) }))
      app.post('/confirm', async (request) => { await request.reauthenticate('pw'); return {} })
      app.post('/renew', async (request) => { await request.login({ user: request.user as never }); return {} })
    }
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200, 'login, request.user work')
  for (const [method, url] of [['GET', '/logins'], ['POST', '/others'], ['POST', '/end'], ['POST', '/confirm']] as const) {
    const response = await app.inject({ method, url, headers: { cookie } })
    t.equal(response.statusCode, 500, `${url}: a setup error`)
    t.equal(response.json().code, 'FST_AUTH_LOGIN_STORE_UNSUPPORTED')
    t.match(response.json().message, /loginStore/, 'that names the option to pass')
  }
  await t.rejects(app.listLogins(1), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED' })
  await t.rejects(app.endLogins(1), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED' })
  const renewed = await app.inject({ method: 'POST', url: '/renew', headers: { cookie } })
  t.equal(renewed.statusCode, 200, 'a renewal still works (read, then delete)')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, 'and the old id is dead')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)

  await t.rejects(build(t, { users, session: { store: asyncStore }, plugin: { logins: { idleTimeout: 30 * 60_000 } } }),
    { code: 'FST_AUTH_INVALID_OPTION', message: /idleTimeout.*loginStore/ }, 'an idle timeout it cannot keep fails at registration')
})

t.test('app.listLogins and app.endLogins refuse what is not a user id', async t => {
  const { app } = await setup(t, faultyStore().store)
  for (const id of [null, {}, '', 1.5, 'x'.repeat(600)]) {
    await t.rejects(app.listLogins(id as never), { code: 'FST_AUTH_INVALID_ARGUMENT' })
    await t.rejects(app.endLogins(id as never), { code: 'FST_AUTH_INVALID_ARGUMENT' })
  }
})

t.test('an idle timeout with no login store known at registration fails there, not by ending logins in use', async t => {
  const users = new TestUsers()
  for (const setup of ['own @fastify/session', 'tokens only'] as const) {
    const app = Fastify()
    t.teardown(() => app.close())
    if (setup === 'own @fastify/session') {
      await app.register(fastifyCookie)
      await app.register(fastifySession, { secret: 'x'.repeat(32), cookie: { secure: false } })
    }
    const registering = app.register(auth, {
      users,
      authHashSecret: 'y'.repeat(32),
      hashOptions: TEST_HASH_OPTIONS,
      logins: { idleTimeout: 30 * 60_000 },
      ...(setup === 'tokens only' ? { defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } } : {})
    } as never)
    await t.rejects(registering.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /idleTimeout.*loginStore/ }, setup)
  }
})
