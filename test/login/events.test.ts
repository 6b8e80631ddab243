import t from 'tap'
import { build, hashOf } from '../helper'
import { addLoginRoutes, fakeClock, listWith, loginFrom } from './helper'

// onLoginEnded: once per login that ends, with why, whoever ended it.

interface Seen { userId: unknown, loginId: string, backend: string, reason: string, request: unknown }

async function app (t: Parameters<typeof build>[0], listener?: (event: Seen) => unknown) {
  const events: Seen[] = []
  const logs: string[] = []
  const clock = fakeClock()
  const { app: server, users } = await build(t, {
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } },
    plugin: {
      now: clock.now,
      logins: { maxAge: 60_000, browserSessionMaxAge: 60_000 },
      onLoginEnded: listener ?? ((event: Seen) => { events.push(event) })
    },
    extend: addLoginRoutes
  })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  return { server, events, clock, logs }
}

t.test('each way of ending a login reports it once, with its reason and the login\'s id', async t => {
  const { server, events, clock } = await app(t)
  const reasons = (): string[] => events.map(event => event.reason)

  const a = await loginFrom(server)
  const [aLogin] = await listWith(server, { cookie: a })
  await server.inject({ method: 'POST', url: '/logout', headers: { cookie: a } })
  t.same(reasons(), ['logout'])
  t.same({ ...events[0], request: undefined }, { userId: 1, loginId: aLogin?.id, backend: 'session', reason: 'logout', request: undefined })
  t.ok(events[0]?.request !== null && typeof events[0]?.request === 'object', 'the request that logged out')
  t.notOk(Object.keys(events[0] as object).includes('request'), 'not enumerable: logging the event does not log the request')

  const b = await loginFrom(server)
  const c = await loginFrom(server)
  const bId = (await listWith(server, { cookie: b })).find(login => login.current)?.id
  await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: c }, payload: { id: bId } })
  await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: c }, payload: { id: bId } })
  t.same(reasons(), ['logout', 'ended'], 'endLogin; ending it again reports nothing')
  t.equal(events[1]?.loginId, bId)

  await loginFrom(server)
  await loginFrom(server)
  await server.inject({ method: 'POST', url: '/logins/end-others', headers: { cookie: c } })
  t.same(reasons(), ['logout', 'ended', 'ended-others', 'ended-others'])

  await loginFrom(server)
  t.equal(await server.endLogins(1), 2)
  t.same(reasons().slice(4), ['ended-all', 'ended-all'])
  t.equal(events[5]?.request, null, 'no request ended them')

  const d = await loginFrom(server)
  clock.advance(60_001)
  t.equal((await server.inject({ url: '/me', headers: { cookie: d } })).statusCode, 401)
  t.same(reasons().slice(6), ['expired'], 'found expired on its next request')
  t.equal(events.length, 7)
})

t.test('a login that expired without a logout is reported, and its record deleted, when the index is pruned', async t => {
  const { server, events, clock } = await app(t)
  await loginFrom(server)
  await loginFrom(server)
  clock.advance(60_001)
  await loginFrom(server)
  t.same(events.map(event => event.reason), ['expired', 'expired'])
  t.equal((await server.listLogins(1)).length, 1)
})

t.test('a listener that throws or rejects is logged and changes nothing', async t => {
  for (const listener of [() => { throw new Error('boom') }, async () => { throw new Error('boom') }]) {
    const { server, logs } = await app(t, listener)
    const cookie = await loginFrom(server)
    const response = await server.inject({ method: 'POST', url: '/logout', headers: { cookie } })
    t.equal(response.statusCode, 200)
    t.equal(await server.endLogins(1), 0)
    await loginFrom(server)
    t.equal(await server.endLogins(1), 1, 'app.endLogins with no request logs to the app')
    await new Promise(resolve => setImmediate(resolve))
    const logged = logs.filter(line => line.includes('the onLoginEnded listener threw') && line.includes('boom'))
    t.equal(logged.length, 2, 'each failure is logged, with the error')
  }
})
