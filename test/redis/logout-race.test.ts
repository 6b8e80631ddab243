import t from 'tap'
import fc from 'fast-check'
import type { RedisStore } from 'connect-redis'
import { hashOf, loginAs } from '../helper'
import { gate, twoInstances, type Hold } from './app'
import { redisFor, redisSkipReason, within } from './server'

// The logout race across instances (issue 4, item 3): a request that loaded the logged-in session on A before B
// logged the user out, and ends after, must not bring the login back on either instance. With @fastify/session and
// connect-redis alone it does: the request's end-of-request save writes the session back under its old id.

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

const WAIT = 5000

function sidOf (cookie: string): string {
  return decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).split('.')[0] as string
}

for (const route of [
  { method: 'POST' as const, url: '/slow-write', writes: true },
  { method: 'GET' as const, url: '/slow-read', writes: false }
]) {
  const what = route.writes ? 'writes to its session' : 'does not write to its session'
  t.test(`a request in flight on A that ${what} while B logs out does not revive the login`, { skip }, async t => {
    const held = gate()
    let hold: Hold = () => Promise.resolve()
    const { a, b, users, prefix, inspect } = await twoInstances(t, url, { hold: () => hold() })
    users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
    const cookie = await loginAs(a, 'bob', 'pw')
    const sessionKey = `${prefix}${sidOf(cookie)}`

    hold = held.hold
    const inFlight = a.inject({ method: route.method, url: route.url, headers: { cookie } })
    await within(held.arrived, WAIT, 'the slow request reaching its handler')

    const logout = await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })
    t.equal(logout.statusCode, 200, 'B logged the user out')
    t.same(await inspect.keys(`${prefix}*`), [], 'the session and the login record are gone from Redis')

    held.release()
    const slow = await within(inFlight, WAIT, 'the slow request')
    t.equal(slow.statusCode, 200)
    t.equal(slow.json().user.username, 'bob', 'the request was authenticated when it started, and finished as such')
    // The race is real: the writing request saved the logged-in session back. The login record is what stops it.
    t.equal(await inspect.exists(sessionKey), route.writes ? 1 : 0,
      route.writes ? 'the stale save wrote the old session back to Redis' : 'nothing was written back')
    t.equal((await inspect.keys(`${prefix}auth-login:*`)).length, 0, 'no login record came back')

    for (const [name, app] of [['A', a], ['B', b]] as const) {
      t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, `the old cookie is refused on ${name}`)
      t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null },
        `the old cookie is anonymous on ${name}`)
    }
    t.equal(await inspect.exists(sessionKey), 0, 'reading the revived session ended it')
  })
}

t.test('a logout on B that lands while A is still loading the session is final too', { skip }, async t => {
  // Holds A's read of the login record until B's logout is done: A has loaded the logged-in session but not yet
  // checked its login.
  let holdRecordRead: (() => Promise<void>) | null = null
  const wrapStore = (store: RedisStore): object => ({
    get (id: string, callback: (error: unknown, value?: unknown) => void) {
      const held = id.startsWith('auth-login:') ? holdRecordRead : null
      if (held === null) return store.get(id, callback)
      holdRecordRead = null
      held().then(() => store.get(id, callback), callback)
    },
    set: (id: string, value: never, callback: (error: unknown) => void) => store.set(id, value, callback),
    destroy: (id: string, callback: (error: unknown) => void) => store.destroy(id, callback)
  })
  const { a, b, users, prefix, inspect } = await twoInstances(t, url, { wrapStore })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const cookie = await loginAs(a, 'bob', 'pw')

  const held = gate()
  holdRecordRead = held.hold
  const inFlight = a.inject({ method: 'POST', url: '/slow-write', headers: { cookie } })
  await within(held.arrived, WAIT, 'A reading the login record')
  t.equal((await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  held.release()
  const slow = await within(inFlight, WAIT, 'the request on A')
  t.equal(slow.statusCode, 200)
  t.equal(slow.json().user, null, 'A found the login record gone and served the request anonymously')
  for (const [name, app] of [['A', a], ['B', b]] as const) {
    t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, `the old cookie is refused on ${name}`)
  }
  t.equal((await inspect.keys(`${prefix}auth-login:*`)).length, 0, 'no login record is left')
})

t.test('every ordering of the store calls of a request on A and a logout on B ends logged out', { skip }, async t => {
  // Each store call of either instance waits for fast-check's scheduler, and the scheduler is asked to pick only
  // once both instances are waiting (or one has answered), so each run is one ordering of the two requests' real
  // Redis commands, chosen at every step.
  let scheduler: fc.Scheduler | null = null
  const pending = { A: 0, B: 0 }
  let wake: () => void = () => {}
  const changed = (): void => wake()
  const scheduled = (instance: 'A' | 'B') => (store: RedisStore): object => {
    const call = (method: 'get' | 'set' | 'destroy') => (...args: unknown[]) => {
      const run = (): unknown => (store[method] as (...a: unknown[]) => unknown)(...args)
      if (scheduler === null) return run()
      pending[instance]++
      scheduler.schedule(Promise.resolve(), `${instance} ${method}`).then(() => {
        pending[instance]--
        run()
      }, () => {})
      changed()
    }
    return { get: call('get'), set: call('set'), destroy: call('destroy') }
  }
  let instances = 0
  const { a, b, users, prefix, inspect } = await twoInstances(t, url, {
    wrapStore: store => scheduled(instances++ === 0 ? 'A' : 'B')(store)
  })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })

  async function interleave (s: fc.Scheduler, slowUrl: string, cookie: string): Promise<[number, number]> {
    const done = { A: false, B: false }
    const finish = (instance: 'A' | 'B') => (response: { statusCode: number }) => {
      done[instance] = true
      changed()
      return response.statusCode
    }
    scheduler = s
    const both = Promise.all([
      a.inject({ method: slowUrl === '/slow-write' ? 'POST' : 'GET', url: slowUrl, headers: { cookie } }).then(finish('A')),
      b.inject({ method: 'POST', url: '/logout', headers: { cookie } }).then(finish('B'))
    ])
    const ready = (): boolean => (done.A || pending.A > 0) && (done.B || pending.B > 0)
    while (!(done.A && done.B)) {
      while (!ready()) await new Promise<void>(resolve => { wake = resolve })
      if (!(done.A && done.B)) await s.waitNext(1)
    }
    scheduler = null
    return both
  }

  let orderings = 0
  await fc.assert(fc.asyncProperty(fc.scheduler(), fc.constantFrom('/slow-write', '/slow-read'), async (s, slowUrl) => {
    const cookie = await loginAs(a, 'bob', 'pw')
    const [onA, logout] = await within(interleave(s, slowUrl, cookie), WAIT, 'the scheduled requests')
    orderings++
    if (onA !== 200 || logout !== 200) return false
    for (const app of [a, b]) {
      if ((await app.inject({ url: '/me', headers: { cookie } })).statusCode !== 401) return false
    }
    return (await inspect.keys(`${prefix}auth-login:*`)).length === 0
  }), { numRuns: 60 })
  t.ok(orderings >= 60, `${orderings} orderings, each ending with the old cookie refused on both instances`)
})
