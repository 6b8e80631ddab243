// Row 3, the logout race: a request that loaded the session before a logout and saves it after (because it wrote to
// the session, or because the app chose rolling sessions) writes the logged-in session back under the old id. Logout
// must stay final whatever is in flight, on one instance or on several sharing a store.
import t from 'tap'
import fc from 'fast-check'
import Fastify, { type FastifyInstance } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession, { MemoryStore } from '@fastify/session'
import { SECRET, TestUsers, cookieFrom, hashOf, loginAs } from '../helper'
import { JsonStore, ScheduledStore, buildApp, deferred, whoIs, type Deferred } from './kit'

interface Gate { entered: Deferred, release: Deferred }

/** GET /slow holds its request (and the session it loaded) until the test releases it; ?write=1 then writes to it. */
function slowRoute (gates: Gate[]) {
  return (app: FastifyInstance) => {
    app.get('/slow', async (request) => {
      const gate = gates.shift() as Gate
      gate.entered.resolve()
      await gate.release.promise
      if ((request.query as { write?: string }).write === '1') request.session.set('visits', Date.now())
      return { user: (request.user as { username?: string } | null)?.username ?? null }
    })
  }
}

function newGate (): Gate {
  return { entered: deferred(), release: deferred() }
}

t.test('control: without the plugin\'s login record, the race revives the logged-out cookie', async t => {
  // The attack reproduced on bare @fastify/session, to show the interleaving below really provokes it.
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, cookie: { secure: false }, saveUninitialized: false })
  const gate = newGate()
  const gates = [gate]
  app.post('/login', async (request) => {
    await request.session.regenerate()
    request.session.set('userId', 1)
    return {}
  })
  app.post('/logout', async (request) => { await request.session.destroy(); return {} })
  app.get('/who', async (request) => ({ userId: request.session?.get('userId') ?? null }))
  slowRoute(gates)(app)
  await app.ready()

  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/login' })) as string
  const slow = app.inject({ url: '/slow?write=1', headers: { cookie } })
  await gate.entered.promise
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  t.same((await app.inject({ url: '/who', headers: { cookie } })).json(), { userId: null }, 'logged out...')
  gate.release.resolve()
  await slow
  t.same((await app.inject({ url: '/who', headers: { cookie } })).json(), { userId: 1 }, '...and back in after the stale save')
})

interface Case { store: 'json' | 'memory', rolling: boolean, write: boolean, instances: 1 | 2 }

const cases: Case[] = []
for (const store of ['json', 'memory'] as const) {
  for (const rolling of [false, true]) {
    for (const write of [false, true]) {
      for (const instances of [1, 2] as const) cases.push({ store, rolling, write, instances })
    }
  }
}

for (const c of cases) {
  const name = `${c.store} store, rolling ${c.rolling}, in-flight request ${c.write ? 'writes' : 'does not write'}, ` +
    `${c.instances} instance${c.instances === 2 ? 's sharing the store' : ''}`
  t.test(`a slow request in flight during logout does not bring the login back (${name})`, async t => {
    const store = c.store === 'json' ? new JsonStore() : new MemoryStore()
    const users = new TestUsers()
    users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
    const gates: Gate[] = []
    const apps: FastifyInstance[] = []
    for (let i = 0; i < c.instances; i++) {
      apps.push((await buildApp(t, { users, session: { store, rolling: c.rolling }, routes: slowRoute(gates) })).app)
    }
    const [first, last] = [apps[0] as FastifyInstance, apps[apps.length - 1] as FastifyInstance]
    const cookie = await loginAs(first, 'alice', 'alice-pw')

    const gate = newGate()
    gates.push(gate)
    const slow = first.inject({ url: `/slow?write=${c.write ? 1 : 0}`, headers: { cookie } })
    await gate.entered.promise
    const logout = await last.inject({ method: 'POST', url: '/logout', headers: { cookie } })
    t.equal(logout.statusCode, 200, 'logout succeeds while the slow request holds the session')
    gate.release.resolve()
    const slowResponse = await slow
    t.equal(slowResponse.statusCode, 200)
    t.equal(slowResponse.json().user, 'alice', 'the slow request was authenticated when it started')

    for (const app of apps) {
      t.same(await whoIs(app, cookie), { status: 200, username: null }, 'the old cookie is anonymous afterwards')
      t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
    }
    const handedBack = cookieFrom(slowResponse)
    if (handedBack !== undefined) {
      t.same(await whoIs(first, handedBack), { status: 200, username: null }, 'so is the cookie the slow response set')
    }
    if (store instanceof JsonStore) t.same(store.records(), [], 'the login record stays deleted')
  })
}

t.test('two requests in flight, one writing and one not, across two instances', async t => {
  const store = new JsonStore()
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  const gates: Gate[] = []
  const a = (await buildApp(t, { users, session: { store, rolling: true }, routes: slowRoute(gates) })).app
  const b = (await buildApp(t, { users, session: { store }, routes: slowRoute(gates) })).app
  const cookie = await loginAs(a, 'alice', 'alice-pw')
  const [g1, g2] = [newGate(), newGate()]
  gates.push(g1, g2)
  const writing = a.inject({ url: '/slow?write=1', headers: { cookie } })
  await g1.entered.promise
  const reading = b.inject({ url: '/slow', headers: { cookie } })
  await g2.entered.promise
  t.equal((await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  g2.release.resolve()
  await reading
  g1.release.resolve()
  await writing
  t.same(await whoIs(a, cookie), { status: 200, username: null })
  t.same(await whoIs(b, cookie), { status: 200, username: null })
  t.same(store.records(), [])
})

t.test('fast-check: every ordering of an in-flight request\'s store calls against a logout\'s', async t => {
  const store = new ScheduledStore()
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice' })
  let scheduler: fc.Scheduler | undefined
  const work = (app: FastifyInstance) => {
    app.get('/work', async (request) => {
      // The handler's own await is one more point the scheduler can put the logout's store calls around.
      await scheduler?.schedule(Promise.resolve(), 'handler')
      if ((request.query as { write?: string }).write === '1') request.session.set('visits', Date.now())
      return { user: (request.user as { username?: string } | null)?.username ?? null }
    })
  }
  const apps: Record<string, FastifyInstance> = {}
  for (const rolling of [false, true]) {
    for (const instance of ['a', 'b']) {
      apps[`${rolling}-${instance}`] = (await buildApp(t, { users, session: { store, rolling }, routes: work })).app
    }
  }

  let runs = 0
  await fc.assert(fc.asyncProperty(
    fc.scheduler(), fc.boolean(), fc.boolean(), fc.boolean(),
    async (s, rolling, write, twoInstances) => {
      runs++
      store.data.clear()
      const worker = apps[`${rolling}-a`] as FastifyInstance
      const logoutApp = apps[`${rolling}-${twoInstances ? 'b' : 'a'}`] as FastifyInstance
      const login = await worker.inject({ method: 'POST', url: '/login-id', payload: { userId: 1 } })
      const cookie = cookieFrom(login) as string

      scheduler = s
      store.scheduler = s
      const [inFlight, logout] = await s.waitFor(Promise.all([
        worker.inject({ url: `/work?write=${write ? 1 : 0}`, headers: { cookie } }),
        logoutApp.inject({ method: 'POST', url: '/logout', headers: { cookie } })
      ]))
      scheduler = undefined
      store.scheduler = undefined

      if (logout.statusCode !== 200 || inFlight.statusCode !== 200) return false
      for (const app of [worker, logoutApp]) {
        if ((await whoIs(app, cookie)).username !== null) return false
      }
      const handedBack = cookieFrom(inFlight)
      if (handedBack !== undefined && (await whoIs(worker, handedBack)).username !== null) return false
      return store.records().length === 0
    }
  ), { numRuns: 300 })
  t.equal(runs >= 300, true, `${runs} orderings tried`)
})
