import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import { RedisStore } from 'connect-redis'
import auth, { createRedisLoginStore } from '../../lib/index'
import type { RedisLoginClient } from '../../lib/login-store/redis'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom } from '../helper'

// The apps and the requests of the round-trip tests (issue 13), on one Redis or a Cluster: the plugin as the README
// recommends it on Redis, and @fastify/session by hand with the same session options and store.

interface Teardown { teardown: (fn: () => unknown) => void }

/** A node-redis client or cluster: what connect-redis and the Redis login store both take. */
export type AnyRedis = ConstructorParameters<typeof RedisStore>[0]['client'] & RedisLoginClient

export interface Measured { flights: number, commands: Record<string, number> }

export type Measure = (what: () => Promise<unknown>) => Promise<Measured>

/**
 * connect-redis sessions and `loginStore: createRedisLoginStore(client)`, one client for both. With `hold`, POST
 * /slow-write waits on it after the user is resolved, then writes to the session.
 */
export async function pluginApp (t: Teardown, redis: AnyRedis, users: TestUsers, prefix: string, hold?: () => Promise<void>): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    hashOptions: TEST_HASH_OPTIONS,
    session: { secret: SECRET, cookie: { secure: false }, store: new RedisStore({ client: redis, prefix }) },
    loginStore: createRedisLoginStore(redis, { prefix })
  })
  addRoutes(app)
  app.put('/visit', async (request) => {
    request.session.set('visits', 1)
    return { ok: true }
  })
  if (hold !== undefined) {
    app.post('/slow-write', async (request) => {
      await hold()
      request.session.set('visits', 1)
      return { user: request.user }
    })
  }
  await app.ready()
  return app
}

/** @fastify/session by hand with the plugin's session options: the baseline of the goals. */
export async function byHandApp (t: Teardown, redis: AnyRedis, users: TestUsers, prefix: string): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, {
    secret: SECRET,
    saveUninitialized: false,
    rolling: false,
    cookie: { secure: false },
    store: new RedisStore({ client: redis, prefix })
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

export const KINDS = ['anonymous, no cookie', 'anonymous, with a session', 'login', 'authenticated', 'logout'] as const

export type Kind = typeof KINDS[number]

/**
 * Each kind of request once on `app`, measured, each checked for its answer: a visitor without a cookie, a visitor
 * with an anonymous session, a login, an authenticated request, a logout (after which the cookie must be refused).
 */
export async function measureKinds (t: Test, name: string, app: FastifyInstance, measure: Measure): Promise<Record<Kind, Measured>> {
  const results: Partial<Record<Kind, Measured>> = {}
  const run = async (kind: Kind, request: Parameters<FastifyInstance['inject']>[0], status: number): Promise<Awaited<ReturnType<FastifyInstance['inject']>>> => {
    let response!: Awaited<ReturnType<FastifyInstance['inject']>>
    results[kind] = await measure(async () => { response = await app.inject(request) })
    t.equal(response.statusCode, status, `${name}: ${kind} answers ${status}`)
    return response
  }
  await run('anonymous, no cookie', { url: '/whoami' }, 200)
  const visit = cookieFrom(await app.inject({ method: 'PUT', url: '/visit' })) as string
  await run('anonymous, with a session', { url: '/whoami', headers: { cookie: visit } }, 200)
  const cookie = cookieFrom(await run('login', { method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } }, 200)) as string
  t.ok(cookie, `${name}: the login set a session cookie`)
  const me = await run('authenticated', { url: '/me', headers: { cookie } }, 200)
  t.equal(me.headers['set-cookie'], undefined, `${name}: an authenticated request sets no cookie`)
  await run('logout', { method: 'POST', url: '/logout', headers: { cookie } }, 200)
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, `${name}: the old cookie is refused after logout`)
  return results as Record<Kind, Measured>
}

/** The goals of issue 13 on the figures of the plugin and of the by-hand app. */
export function assertGoals (t: Test, plugin: Record<Kind, Measured>, byHand: Record<Kind, Measured>): void {
  for (const kind of KINDS) {
    t.comment(`${kind}: plugin ${plugin[kind].flights} round trips ${JSON.stringify(plugin[kind].commands)}, ` +
      `by hand ${byHand[kind].flights} ${JSON.stringify(byHand[kind].commands)}`)
  }
  t.same(plugin['anonymous, no cookie'], { flights: 0, commands: {} }, 'an anonymous request without a cookie: no store call')
  t.same(plugin['anonymous, with a session'], { flights: 1, commands: { get: 1 } },
    'an anonymous visitor\'s session is read as by hand, and no login record is read for it')
  t.same(plugin['anonymous, with a session'], byHand['anonymous, with a session'], 'the same as by hand')
  t.equal(byHand.authenticated.flights, 1, 'by hand, an authenticated request waits for one round trip')
  t.equal(plugin.authenticated.flights, 1, 'so does the plugin: the record is read at the same time as the session')
  t.same(plugin.authenticated.commands, { get: 1, hgetall: 1 }, 'one session GET and one record HGETALL, no write')
  t.ok(plugin.login.flights <= byHand.login.flights + 1,
    `login: ${plugin.login.flights} round trips, by hand ${byHand.login.flights} (+ 1 at most)`)
  t.ok(plugin.logout.flights <= byHand.logout.flights + 1,
    `logout: ${plugin.logout.flights} round trips, by hand ${byHand.logout.flights} (+ 1 at most)`)
  t.equal(plugin.logout.commands.set, undefined, 'logout writes no empty session to the store')
}
