import t, { type Test } from 'tap'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import { RedisStore } from 'connect-redis'
import auth from '../../lib/index'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import type { LoginStore } from '../../lib/login-store/contract'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, userIndexKey } from '../helper'
import { JWT_SECRET } from '../jwt/helper'
import { cleanUp, connectClient, keysUnder, testPrefix, type RedisClient } from '../redis/app'
import { redisFor, redisSkipReason, within } from '../redis/server'
import { addLoginRoutes } from '../login/helper'

// Issue 17 on a real Redis with two app instances sharing it: sessions in connect-redis, logins in
// createRedisLoginStore(client). What one instance ends, the other refuses at its next request; and every ordering
// of the login-store commands of concurrent requests on the two instances leaves exactly the live logins.

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

const WAIT = 5000

interface Pair {
  a: FastifyInstance
  b: FastifyInstance
  users: TestUsers
  prefix: string
  inspect: RedisClient
}

async function instance (t: Test, client: RedisClient, prefix: string, users: TestUsers, wrap: (store: LoginStore) => LoginStore): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    hashOptions: TEST_HASH_OPTIONS,
    session: { secret: SECRET, cookie: { secure: false }, store: new RedisStore({ client, prefix }) },
    jwt: { secret: JWT_SECRET },
    loginStore: wrap(createRedisLoginStore(client as never, { prefix }))
  } as never)
  addRoutes(app)
  addLoginRoutes(app)
  app.post('/login-jwt', async (request) => ({ token: await request.login({ userId: 1, backend: 'jwt' }) }))
  await app.ready()
  return app
}

async function pair (t: Test, wrap: (name: 'A' | 'B', store: LoginStore) => LoginStore = (_name, store) => store): Promise<Pair> {
  const prefix = testPrefix()
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob' })
  users.add({ id: 2, username: 'alice' })
  const { client: inspect } = await connectClient(t, url)
  cleanUp(t, inspect, prefix)
  const [{ client: clientA }, { client: clientB }] = await Promise.all([connectClient(t, url), connectClient(t, url)])
  const a = await instance(t, clientA, prefix, users, store => wrap('A', store))
  const b = await instance(t, clientB, prefix, users, store => wrap('B', store))
  return { a, b, users, prefix, inspect }
}

async function loginOn (app: FastifyInstance, userId = 1, headers: Record<string, string> = {}): Promise<{ status: number, cookie: string | undefined }> {
  const response = await app.inject({ method: 'POST', url: '/login-id', payload: { userId }, headers })
  return { status: response.statusCode, cookie: cookieFrom(response) }
}

async function authenticates (apps: FastifyInstance[], cookie: string | undefined): Promise<boolean[]> {
  if (cookie === undefined) return apps.map(() => false)
  return await Promise.all(apps.map(async app => (await app.inject({ url: '/me', headers: { cookie } })).statusCode === 200))
}

t.test('two instances: one lists and ends what the other made, and the other refuses it at once', { skip }, async t => {
  const { a, b, inspect, prefix } = await pair(t)
  const onA = (await loginOn(a, 1, { 'user-agent': 'Phone' })).cookie as string
  const onB = (await loginOn(b, 1, { 'user-agent': 'Laptop' })).cookie as string
  const alice = (await loginOn(b, 2)).cookie as string
  const token = (await a.inject({ method: 'POST', url: '/login-jwt' })).json().token as string

  const listedOnA = (await a.inject({ url: '/logins', headers: { cookie: onA } })).json().logins
  const listedOnB = (await b.inject({ url: '/logins', headers: { cookie: onB } })).json().logins
  t.same(listedOnA.map((login: { userAgent: string }) => login.userAgent).sort(), ['Laptop', 'Phone', 'lightMyRequest'], 'the token\'s login too')
  t.same(listedOnA.map((login: { id: string }) => login.id), listedOnB.map((login: { id: string }) => login.id), 'the same logins on both')

  const phone = listedOnB.find((login: { userAgent: string }) => login.userAgent === 'Phone').id
  t.same((await b.inject({ method: 'POST', url: '/logins/end', headers: { cookie: onB }, payload: { id: phone } })).json(), { ended: true })
  t.same(await authenticates([a, b], onA), [false, false], 'the phone, logged in on A and ended on B, is refused on both')
  t.same(await authenticates([a, b], onB), [true, true])

  for (const id of [42, '', 'x'.repeat(10 * 1024), (await a.listLogins(2))[0]?.id]) {
    const response = await a.inject({ method: 'POST', url: '/logins/end', headers: { cookie: onB }, payload: { id } })
    t.same([response.statusCode, response.json()], [200, { ended: false }])
  }
  t.same(await authenticates([a, b], alice), [true, true], 'another user\'s login is not ended by its id')

  t.equal(await b.endLogins(1), 2, 'the laptop\'s session and the token made on A')
  t.same(await authenticates([a, b], onB), [false, false])
  t.equal((await a.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })).statusCode, 401, 'the token too')
  t.same(await a.listLogins(1), [])
  const left = (await keysUnder(inspect, prefix)).filter(key => key.includes('auth-'))
  t.equal(left.length, 2, 'only alice\'s record and index are left')
  t.ok(left.every(key => !key.endsWith(userIndexKey(1))))
})

t.test('the Redis login store keeps records and index entries exact', { skip }, async t => {
  const { a, inspect, prefix } = await pair(t)
  const cookies = []
  for (let i = 0; i < 5; i++) cookies.push((await loginOn(a)).cookie as string)
  t.equal(await inspect.hLen(`${prefix}${userIndexKey(1)}`), 5)
  for (const cookie of cookies) await a.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.same((await keysUnder(inspect, prefix)).filter(key => key.includes('auth-')), [], 'logout removes record and entry')
  const ttl = async (): Promise<number> => await inspect.pTTL(`${prefix}${userIndexKey(1)}`)
  await loginOn(a)
  t.ok(await ttl() > 0, 'the index expires with its longest login')
})

/**
 * Each login-store call of either instance waits for fast-check's scheduler, which picks the next one only when both
 * instances are waiting on one (or done), so that each run is one ordering of their real Redis commands.
 */
function scheduledPair (t: Test) {
  let scheduler: fc.Scheduler | null = null
  const pending = { A: 0, B: 0 }
  let wake: () => void = () => {}
  const changed = (): void => wake()
  const wrap = (name: 'A' | 'B', store: LoginStore): LoginStore => {
    const wrapped: Record<string, unknown> = {}
    for (const method of Object.keys(store) as Array<keyof LoginStore>) {
      wrapped[method] = (...args: unknown[]) => {
        const run = (): unknown => (store[method] as (...a: unknown[]) => unknown)(...args)
        if (scheduler === null) return run()
        pending[name]++
        changed()
        return scheduler.schedule(Promise.resolve(), `${name} ${method} ${String(args[0]).replace(/^auth-(\w+):.*/, '$1')}`).then(() => {
          pending[name]--
          return run()
        })
      }
    }
    return wrapped as unknown as LoginStore
  }
  async function interleave<A, B> (s: fc.Scheduler, onA: () => Promise<A>, onB: () => Promise<B>): Promise<[A, B]> {
    const done = { A: false, B: false }
    const finish = <T>(name: 'A' | 'B') => (value: T): T => {
      done[name] = true
      changed()
      return value
    }
    scheduler = s
    const both = Promise.all([onA().then(finish<A>('A')), onB().then(finish<B>('B'))])
    const ready = (): boolean => (done.A || pending.A > 0) && (done.B || pending.B > 0)
    while (!(done.A && done.B)) {
      while (!ready()) await new Promise<void>(resolve => { wake = resolve })
      if (!(done.A && done.B)) await s.waitNext(1)
    }
    scheduler = null
    return await both
  }
  return { wrap, interleave, pair: () => pair(t, wrap) }
}

t.test('every ordering of endLogins on A against a renewal, a new login, a listing or endOtherLogins on B is exact', { skip }, async t => {
  const scheduled = scheduledPair(t)
  const { a, b, prefix, inspect } = await scheduled.pair()
  const apps = [a, b]
  const counts: Record<string, number> = {}

  await fc.assert(fc.asyncProperty(fc.scheduler(), fc.constantFrom('renew', 'login', 'list', 'end-others', 'jwt'), async (s, onB) => {
    // Two complete logins, one made on each instance, before endLogins is called.
    const first = (await loginOn(a)).cookie as string
    const second = (await loginOn(b)).cookie as string
    const before = new Set((await a.listLogins(1)).map(login => login.id))
    let made: string | undefined
    let token: string | undefined
    const [ended] = await within(scheduled.interleave(s, () => a.endLogins(1), async () => {
      if (onB === 'renew') made = (await loginOn(b, 1, { cookie: first })).cookie
      else if (onB === 'login') made = (await loginOn(b)).cookie
      else if (onB === 'list') await b.inject({ url: '/logins', headers: { cookie: second } })
      else if (onB === 'end-others') await b.inject({ method: 'POST', url: '/logins/end-others', headers: { cookie: second } })
      else token = (await b.inject({ method: 'POST', url: '/login-jwt' })).json().token
    }), WAIT, 'the scheduled calls')
    counts[onB] = (counts[onB] ?? 0) + 1

    // No login that was complete before endLogins was called authenticates, on either instance, under any cookie.
    for (const cookie of [first, second]) {
      if ((await authenticates(apps, cookie)).some(Boolean)) return false
    }
    // At most the two, and what B made if it was complete by the time endLogins read the index.
    if (ended > (onB === 'list' || onB === 'end-others' ? 2 : 3)) return false
    // What B made meanwhile may have been ended or not. If it authenticates it is a login of its own (a renewal of
    // an ended login is refused, and a login() on the ended session is a new login), and the only one listed.
    const headers = made !== undefined ? { cookie: made } : token !== undefined ? { authorization: `Bearer ${token}` } : undefined
    let live = 0
    if (headers !== undefined) {
      const [onA, onB2] = await Promise.all(apps.map(app => app.inject({ url: '/logins', headers })))
      if (onA?.statusCode !== onB2?.statusCode) return false
      if (onA?.statusCode === 200) {
        const current = onA.json().logins.find((login: { current: boolean }) => login.current)
        if (current === undefined || before.has(current.id)) return false
        live = 1
      }
    }
    if ((await a.listLogins(1)).length !== live || (await b.listLogins(1)).length !== live) return false
    const records = (await keysUnder(inspect, `${prefix}auth-login:`)).length
    const entries = await inspect.hLen(`${prefix}${userIndexKey(1)}`)
    if (records !== live || entries !== live) return false
    await a.endLogins(1)
    return true
  }), { numRuns: 100 })
  t.ok(Object.keys(counts).length === 5, `orderings tried: ${JSON.stringify(counts)}`)
})

t.test('every ordering of two concurrent logins on A and B keeps both in the index', { skip }, async t => {
  const scheduled = scheduledPair(t)
  const { a, b, prefix, inspect } = await scheduled.pair()
  let runs = 0
  await fc.assert(fc.asyncProperty(fc.scheduler(), async s => {
    const [onA, onB] = await within(scheduled.interleave(s, () => loginOn(a), () => loginOn(b)), WAIT, 'two logins')
    runs++
    const listed = await a.listLogins(1)
    const ok = listed.length === 2 && (await inspect.hLen(`${prefix}${userIndexKey(1)}`)) === 2 &&
      (await authenticates([a, b], onA.cookie)).every(Boolean) && (await authenticates([a, b], onB.cookie)).every(Boolean)
    await a.endLogins(1)
    return ok
  }), { numRuns: 40 })
  t.equal(runs, 40)
})
