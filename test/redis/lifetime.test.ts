import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { RedisStore } from 'connect-redis'
import auth, { createRedisLoginStore } from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, hashOf, loginAs, userIndexKey } from '../helper'
import { connectClient, testPrefix, type RedisClient } from './app'
import { redisFor, redisSkipReason } from './server'

// Login lifetimes and the races around renewing a login, on two app instances that share a real Redis: sessions in
// connect-redis, login records in createRedisLoginStore. The plugin's clock is a fake one the test moves.

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

const MINUTE = 60_000
const DAY = 24 * 60 * MINUTE

interface Gate { wait: () => Promise<void>, open: () => void }

function gate (): Gate {
  let open: () => void = () => {}
  let promise = new Promise<void>(resolve => { open = resolve })
  return {
    wait: () => promise,
    open: () => {
      open()
      promise = new Promise<void>(resolve => { open = resolve })
    }
  }
}

async function instances (t: Parameters<typeof connectClient>[0], logins: Record<string, unknown> = {}) {
  const { client } = await connectClient(t, url)
  const prefix = testPrefix()
  let time = Date.now()
  const clock = { now: () => time, advance: (ms: number) => { time += ms } }
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const held = gate()
  const build = async (): Promise<FastifyInstance> => {
    const app = Fastify()
    t.teardown(() => app.close())
    await app.register(auth, {
      users,
      hashOptions: TEST_HASH_OPTIONS,
      now: clock.now,
      logins,
      session: { secret: SECRET, cookie: { secure: false }, store: new RedisStore({ client, prefix }) },
      loginStore: createRedisLoginStore(client, { prefix })
    } as never)
    addRoutes(app)
    app.post('/slow-renew', { preHandler: app.requireUser }, async (request) => {
      await held.wait()
      await request.login({ user: request.user as NonNullable<typeof request.user> })
      return { ok: true }
    })
    app.post('/login-forget', async (request) => {
      const { username, password } = request.body as { username: string, password: string }
      await request.login({ user: await request.authenticate(username, password), remember: false })
      return { ok: true }
    })
    app.post('/slow-confirm', { preHandler: app.requireUser }, async (request) => {
      await held.wait()
      await request.reauthenticate('pw')
      return { ok: true }
    })
    await app.ready()
    return app
  }
  return { a: await build(), b: await build(), client, prefix, clock, held }
}

async function who (app: FastifyInstance, cookie: string): Promise<string | null> {
  return (await app.inject({ url: '/whoami', headers: { cookie } })).json().user?.username ?? null
}

function sidOf (cookie: string): string {
  return decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).split('.')[0] as string
}

/** Waits until the record's seenAt has been written past `after` (the write happens after the response). */
async function seenAfter (client: RedisClient, key: string, after: number): Promise<void> {
  for (let i = 0; i < 100; i++) {
    if (Number(await client.hGet(key, 'seenAt')) > after) return
    await new Promise(resolve => setTimeout(resolve, 10))
  }
  throw new Error(`seenAt of ${key} was never written`)
}

t.test('the absolute lifetime holds across instances, and the record\'s TTL agrees with it', { skip }, async t => {
  const { a, b, client, prefix, clock } = await instances(t)
  const cookie = await loginAs(a, 'ann', 'pw')
  const key = `${prefix}auth-login:${sidOf(cookie)}`
  const ttl = await client.pTTL(key)
  t.ok(Math.abs(ttl - 14 * DAY) < MINUTE, `the record expires with the login (PTTL ${ttl})`)
  t.ok((await client.pTTL(`${prefix}${userIndexKey(1)}`)) > 13 * DAY, 'and so does the user\'s index')
  clock.advance(14 * DAY - MINUTE)
  t.equal(await who(b, cookie), 'ann')
  clock.advance(2 * MINUTE)
  t.equal(await who(b, cookie), null, 'ended on B at 14 days')
  t.equal(await who(a, cookie), null, 'and on A')
  t.equal(await client.exists(key), 0, 'its record is gone')
})

t.test('the idle timeout on Redis: seenAt written after the response extends it; unused, it ends', { skip }, async t => {
  const { a, b, client, prefix, clock } = await instances(t, { idleTimeout: 30 * MINUTE })
  const cookie = await loginAs(a, 'ann', 'pw')
  const key = `${prefix}auth-login:${sidOf(cookie)}`
  for (let i = 1; i <= 4; i++) {
    clock.advance(20 * MINUTE)
    t.equal(await who(i % 2 === 0 ? a : b, cookie), 'ann', `${20 * i} minutes in, used every 20`)
    await seenAfter(client, key, clock.now() - 1)
  }
  // The store's expiry is set on the plugin's clock, which this test has moved 80 minutes ahead of Redis's.
  const ttl = await client.pTTL(key)
  const expected = clock.now() + 30 * MINUTE - Date.now()
  t.ok(Math.abs(ttl - expected) < 2000, `the store forgets it when it would be idle (PTTL ${ttl}, expected ${expected})`)
  clock.advance(31 * MINUTE)
  t.equal(await who(b, cookie), null, 'unused for 31 minutes: ended')
})

t.test('remember: false logins end at browserSessionMaxAge on every instance', { skip }, async t => {
  const { a, b, clock } = await instances(t, { browserSessionMaxAge: 60 * MINUTE })
  const response = await a.inject({ method: 'POST', url: '/login-forget', payload: { username: 'ann', password: 'pw' } })
  t.equal(response.statusCode, 200)
  t.equal(response.cookies.find(c => c.name === 'sessionId')?.expires, undefined, 'a browser-session cookie')
  const forgotten = cookieFrom(response) as string
  const plain = await loginAs(a, 'ann', 'pw')
  clock.advance(61 * MINUTE)
  t.equal(await who(b, forgotten), null, 'ended after an hour')
  t.equal(await who(b, plain), 'ann', 'a login without remember lives for logins.maxAge')
})

t.test('a renewal racing a logout on another instance loses: the login stays ended', { skip }, async t => {
  const { a, b, held, client, prefix } = await instances(t)
  const cookie = await loginAs(a, 'ann', 'pw')
  const renewing = a.inject({ method: 'POST', url: '/slow-renew', headers: { cookie } })
  await new Promise(resolve => setTimeout(resolve, 30))
  t.equal((await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  held.open()
  const response = await renewing
  t.equal(response.statusCode, 401, 'the renewal finds its login ended')
  const handedOut = cookieFrom(response)
  if (handedOut !== undefined) t.equal(await who(b, handedOut), null, 'any cookie it sent is anonymous')
  t.equal(await who(a, cookie), null)
  t.same(await client.keys(`${prefix}auth-login:*`), [], 'no login record is left')
})

t.test('a renewal that wins against a logout moves the login, and the logout then ends the moved one', { skip }, async t => {
  const { a, b, held } = await instances(t)
  const cookie = await loginAs(a, 'ann', 'pw')
  const renewing = a.inject({ method: 'POST', url: '/slow-renew', headers: { cookie } })
  await new Promise(resolve => setTimeout(resolve, 30))
  held.open()
  const renewed = cookieFrom(await renewing) as string
  t.equal(await who(b, renewed), 'ann', 'the renewed cookie works on B')
  t.equal(await who(b, cookie), null, 'the old one does not')
  await b.inject({ method: 'POST', url: '/logout', headers: { cookie: renewed } })
  t.equal(await who(a, renewed), null)
})

t.test('a renewal racing endLogins on another instance undoes itself', { skip }, async t => {
  const { a, b, held } = await instances(t)
  const cookie = await loginAs(a, 'ann', 'pw')
  const renewing = a.inject({ method: 'POST', url: '/slow-renew', headers: { cookie } })
  await new Promise(resolve => setTimeout(resolve, 30))
  t.equal(await b.endLogins(1), 1, 'endLogins ends the one login')
  held.open()
  const response = await renewing
  t.equal(response.statusCode, 401)
  const handedOut = cookieFrom(response)
  if (handedOut !== undefined) t.equal(await who(b, handedOut), null)
  t.same(await b.listLogins(1), [], 'nothing is listed')
})

t.test('a reauthentication racing a logout on another instance does not revive the login', { skip }, async t => {
  const { a, b, held, client, prefix } = await instances(t)
  const cookie = await loginAs(a, 'ann', 'pw')
  const confirming = a.inject({ method: 'POST', url: '/slow-confirm', headers: { cookie } })
  await new Promise(resolve => setTimeout(resolve, 30))
  await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  held.open()
  t.equal((await confirming).statusCode, 401)
  t.equal(await who(b, cookie), null)
  t.same(await client.keys(`${prefix}auth-login:*`), [], 'the update did not write the record back')
})
