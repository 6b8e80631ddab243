import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { RedisStore } from 'connect-redis'
import { createClient } from 'redis'
import auth, { createRedisLoginStore } from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, hashOf } from '../helper'
import { RedisServer, ownRedisSkipReason, within } from './server'
import { DelayProxy, commandDelta, commandStats } from './proxy'

// Issue 13: how many Redis round trips each kind of request waits for, through a proxy that delays each direction,
// against @fastify/session used by hand on the same store. Counts, not times: they do not depend on the machine.
// Round trips are the proxy's flights (test/redis/proxy.ts); commands are INFO commandstats deltas, read on a
// connection of the test's own that bypasses the proxy.

const skip = ownRedisSkipReason()
// Each way; a command that waits for another's answer arrives at least 2 × DELAY after it.
const DELAY = 25

type Client = ReturnType<typeof createClient>

interface Measured { flights: number, commands: Record<string, number> }

let server: RedisServer
let proxy: DelayProxy
let inspect: Client

async function client (port: number): Promise<Client> {
  const redis = createClient({ socket: { host: '127.0.0.1', port } })
  redis.on('error', () => {})
  await within(redis.connect(), 5000, 'connecting to Redis')
  t.teardown(() => redis.destroy())
  return redis
}

if (skip === false) {
  t.before(async () => {
    server = await RedisServer.start()
    proxy = await DelayProxy.start(server.port, DELAY)
    inspect = await client(server.port)
  })
  t.teardown(async () => {
    await proxy?.close()
    await server?.stop()
  })
}

async function measure (what: () => Promise<unknown>): Promise<Measured> {
  const before = commandStats(await inspect.info('commandstats'))
  proxy.reset()
  await what()
  const flights = proxy.flights
  return { flights, commands: commandDelta(before, commandStats(await inspect.info('commandstats'))) }
}

/** The plugin as the README recommends it on Redis: connect-redis sessions and the Redis login store, one client. */
async function pluginApp (users: TestUsers): Promise<FastifyInstance> {
  const redis = await client(proxy.port)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    hashOptions: TEST_HASH_OPTIONS,
    session: { secret: SECRET, cookie: { secure: false }, store: new RedisStore({ client: redis, prefix: 'plugin:' }) },
    loginStore: createRedisLoginStore(redis, { prefix: 'plugin:' })
  })
  addRoutes(app)
  app.put('/visit', async (request) => {
    request.session.set('visits', 1)
    return { ok: true }
  })
  await app.ready()
  return app
}

/** @fastify/session by hand with the plugin's session options: the baseline of the goals. */
async function byHandApp (users: TestUsers): Promise<FastifyInstance> {
  const redis = await client(proxy.port)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    saveUninitialized: false,
    rolling: false,
    cookie: { secure: false },
    store: new RedisStore({ client: redis, prefix: 'by-hand:' })
  })
  app.post('/login', async (request) => {
    await request.session.regenerate()
    request.session.set('userId' as never, 1 as never)
    return { id: 1 }
  })
  app.get('/me', async (request, reply) => {
    const user = users.byId.get(Number(request.session.get('userId' as never)))
    if (user === undefined) return reply.code(401).send({ user: null })
    return { user }
  })
  app.get('/whoami', async () => ({ user: null }))
  app.put('/visit', async (request) => {
    request.session.set('visits', 1)
    return { ok: true }
  })
  app.post('/logout', async (request) => {
    await request.session.destroy()
    return { user: null }
  })
  await app.ready()
  return app
}

t.test('round trips and commands per request kind, the plugin on Redis against @fastify/session by hand', { skip }, async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const apps = { plugin: await pluginApp(users), byHand: await byHandApp(users) }
  const results: Record<string, Record<keyof typeof apps, Measured>> = {}

  for (const [name, app] of Object.entries(apps) as Array<[keyof typeof apps, FastifyInstance]>) {
    const run = async (kind: string, request: Parameters<FastifyInstance['inject']>[0], status: number): Promise<{ headers: Record<string, unknown>, cookies: Array<{ name: string, value: string }> }> => {
      let response!: Awaited<ReturnType<FastifyInstance['inject']>>
      const measured = await measure(async () => { response = await app.inject(request) })
      t.equal(response.statusCode, status, `${name}: ${kind} answers ${status}`)
      results[kind] = { ...results[kind], [name]: measured } as Record<keyof typeof apps, Measured>
      return response
    }
    await run('anonymous, no cookie', { url: '/whoami' }, 200)
    const visit = cookieFrom(await app.inject({ method: 'PUT', url: '/visit' })) as string
    await run('anonymous, with a session', { url: '/whoami', headers: { cookie: visit } }, 200)
    const login = await run('login', { method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } }, 200)
    const cookie = cookieFrom(login) as string
    t.ok(cookie, `${name}: the login set a session cookie`)
    const me = await run('authenticated', { url: '/me', headers: { cookie } }, 200)
    t.equal(me.headers['set-cookie'], undefined, `${name}: an authenticated request sets no cookie`)
    await run('logout', { method: 'POST', url: '/logout', headers: { cookie } }, 200)
    t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, `${name}: the old cookie is refused after logout`)
  }
  for (const [kind, { plugin, byHand }] of Object.entries(results)) {
    t.comment(`${kind}: plugin ${plugin.flights} round trips ${JSON.stringify(plugin.commands)}, ` +
      `by hand ${byHand.flights} ${JSON.stringify(byHand.commands)}`)
  }
  const { plugin, byHand } = { plugin: (kind: string) => results[kind]?.plugin as Measured, byHand: (kind: string) => results[kind]?.byHand as Measured }

  t.same(plugin('anonymous, no cookie'), { flights: 0, commands: {} }, 'an anonymous request without a cookie: no store call')
  t.same(plugin('anonymous, with a session'), { flights: 1, commands: { get: 1 } },
    'an anonymous visitor\'s session is read as by hand, and no login record is read for it')
  t.same(plugin('anonymous, with a session'), byHand('anonymous, with a session'), 'the same as by hand')

  t.equal(byHand('authenticated').flights, 1, 'by hand, an authenticated request waits for one round trip')
  t.equal(plugin('authenticated').flights, 1, 'so does the plugin: the record is read at the same time as the session')
  t.same(plugin('authenticated').commands, { get: 1, hgetall: 1 }, 'one session GET and one record HGETALL, no write')

  t.ok(plugin('login').flights <= byHand('login').flights + 1,
    `login: ${plugin('login').flights} round trips, by hand ${byHand('login').flights} (+ 1 at most)`)
  t.ok(plugin('logout').flights <= byHand('logout').flights + 1,
    `logout: ${plugin('logout').flights} round trips, by hand ${byHand('logout').flights} (+ 1 at most)`)
  t.equal(plugin('logout').commands.set, undefined, 'logout writes no empty session to the store')
})
