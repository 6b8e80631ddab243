import t, { type Test } from 'tap'
import { performance } from 'node:perf_hooks'
import type { FastifyInstance, InjectOptions, LightMyRequestResponse } from 'fastify'
import { TestUsers, cookieFrom, hashOf, loginAs } from '../helper'
import { buildInstance, connectClient, testPrefix } from './app'
import { RedisServer, ownRedisSkipReason, within } from './server'

// Redis goes away while a user is logged in: every request that needs the store answers 5xx within a bound (none
// hangs, none is served as a user), requests that do not need it go on, and when Redis is back logins work again
// without restarting the app. These tests kill and pause a redis-server of their own, never REDIS_URL's.

const skip = ownRedisSkipReason()

const STORE_TIMEOUT = 700
/** The most any request may take while Redis is down: the store deadline plus room for a loaded CI machine. */
const BOUND = STORE_TIMEOUT + 1500

interface Timed { response: LightMyRequestResponse, ms: number }

async function timed (app: FastifyInstance, options: InjectOptions): Promise<Timed> {
  const start = performance.now()
  const response = await within(app.inject(options), 10_000, 'a request during the outage')
  return { response, ms: performance.now() - start }
}

async function setUp (t: Test, clientOptions: { commandTimeout?: number } = {}, storeTimeout = STORE_TIMEOUT) {
  const server = await RedisServer.start()
  t.teardown(() => server.stop())
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const { client, errors } = await connectClient(t, server.url, clientOptions)
  const app = await buildInstance(t, { client, prefix: testPrefix(), users, storeTimeout })
  return { server, app, client, errors }
}

/** Asserts what every request that needs the store must do while it is down: a quick 5xx, nobody logged in. */
function failsClosed (t: Test, { response, ms }: Timed, what: string): void {
  t.ok(response.statusCode >= 500 && response.statusCode < 600, `${what}: 5xx (got ${response.statusCode})`)
  t.ok(ms < BOUND, `${what}: answered in ${Math.round(ms)} ms (bound ${BOUND} ms)`)
  t.notMatch(response.body, /bob/, `${what}: no user in the answer`)
}

/** Retries a login until Redis is back, within a deadline: the app itself is never restarted. */
async function loginWhenBack (app: FastifyInstance, deadline = 5000): Promise<string> {
  const until = Date.now() + deadline
  for (;;) {
    try {
      return await loginAs(app, 'bob', 'pw')
    } catch (error) {
      if (Date.now() > until) throw error
      await new Promise(resolve => setTimeout(resolve, 50))
    }
  }
}

async function duringOutage (t: Test, app: FastifyInstance, cookie: string): Promise<void> {
  failsClosed(t, await timed(app, { url: '/me', headers: { cookie } }), 'a logged-in request')
  failsClosed(t, await timed(app, { url: '/whoami', headers: { cookie } }), 'a logged-in request to an open route')
  const login = await timed(app, { method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } })
  failsClosed(t, login, 'a login')
  t.equal(cookieFrom(login.response), undefined, 'a failed login sets no session cookie')
  failsClosed(t, await timed(app, { method: 'POST', url: '/logout', headers: { cookie } }), 'a logout (not reported as done)')
  // An anonymous visitor costs no store call, so they are served as ever.
  const anonymous = await timed(app, { url: '/whoami' })
  t.equal(anonymous.response.statusCode, 200, 'an anonymous request is served')
  t.same(anonymous.response.json(), { user: null, id: null }, 'as anonymous')
}

t.test('Redis killed (SIGKILL) and restarted on the same port', { skip }, async t => {
  const { server, app, errors } = await setUp(t)
  const cookie = await loginAs(app, 'bob', 'pw')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200)

  await server.kill()
  await duringOutage(t, app, cookie)
  t.ok(errors.length > 0, 'the client reported the lost connection on its error event')

  await server.restart()
  const fresh = await loginWhenBack(app)
  t.equal((await app.inject({ url: '/me', headers: { cookie: fresh } })).json().user.username, 'bob', 'logins work again')
  // The restarted server is empty (no persistence): the old login is gone, and reads as anonymous, not as an error.
  t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null },
    'the login from before the restart is anonymous')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie: fresh } })).statusCode, 200, 'logout works')
  t.equal((await app.inject({ url: '/me', headers: { cookie: fresh } })).statusCode, 401, 'and is final')
})

t.test('Redis paused (SIGSTOP) and continued (SIGCONT)', { skip }, async t => {
  const { server, app } = await setUp(t)
  const cookie = await loginAs(app, 'bob', 'pw')

  server.pause()
  await duringOutage(t, app, cookie)
  // node-redis's command timeout only covers a command still queued in the client; one written to a server that
  // then says nothing waits for ever. The plugin's storeTimeout is what answers these requests.
  const read = await timed(app, { url: '/me', headers: { cookie } })
  t.equal(read.response.statusCode, 503, 'a silent server is answered by the plugin\'s store timeout')
  t.equal(read.response.json().code, 'FST_AUTH_STORE_TIMEOUT')

  server.resume()
  const fresh = await loginWhenBack(app)
  t.equal((await app.inject({ url: '/me', headers: { cookie: fresh } })).statusCode, 200, 'logins work again')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie: fresh } })).statusCode, 200, 'logout works')
  t.equal((await app.inject({ url: '/me', headers: { cookie: fresh } })).statusCode, 401, 'and is final')
  // The logout tried during the pause reached Redis when it woke up, or did not: either way the old login reads
  // without error, and as bob or nobody.
  const old = await app.inject({ url: '/whoami', headers: { cookie } })
  t.equal(old.statusCode, 200, 'the login from before the pause reads without error')
  t.ok(old.json().user === null || old.json().user.username === 'bob', 'as bob or as anonymous, never as someone else')
})

t.test('with a client that never times out, the plugin\'s storeTimeout alone bounds every request', { skip }, async t => {
  // No command timeout: while the client reconnects to a dead server, commands wait in its offline queue for ever.
  const storeTimeout = 300
  const { server, app } = await setUp(t, { commandTimeout: undefined }, storeTimeout)
  const cookie = await loginAs(app, 'bob', 'pw')

  await server.kill()
  for (const [what, request] of [
    ['a logged-in request', { url: '/me', headers: { cookie } }],
    ['a login', { method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } }],
    ['a logout', { method: 'POST', url: '/logout', headers: { cookie } }]
  ] as const) {
    const result = await timed(app, request)
    failsClosed(t, result, what)
    t.equal(result.response.statusCode, 503, `${what}: 503`)
    t.equal(result.response.json().code, 'FST_AUTH_STORE_TIMEOUT', `${what}: the plugin's store timeout`)
    t.ok(result.ms >= storeTimeout - 20, `${what}: after the store had its ${storeTimeout} ms`)
  }

  await server.restart()
  const fresh = await loginWhenBack(app)
  t.equal((await app.inject({ url: '/me', headers: { cookie: fresh } })).statusCode, 200, 'logins work again')
})
