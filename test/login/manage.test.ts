import t, { type Test } from 'tap'
import { createHash } from 'node:crypto'
import { MemoryStore } from '@fastify/session'
import type { FastifyInstance } from 'fastify'
import { build, hashOf, cookieFrom, type TestUsers } from '../helper'
import { addLoginRoutes, fakeClock, listWith, loginFrom, statusOf } from './helper'

// Issue 17 on the default store (@fastify/session's MemoryStore): listing a user's logins, ending one, the others,
// all of them, and what a caller can do wrong.

function sidOf (cookie: string): string {
  return decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).split('.')[0] as string
}

async function usersWithBobAndAlice (users: TestUsers): Promise<void> {
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  users.add({ id: 2, username: 'alice', password: await hashOf('pw') })
}

async function app (t: Test, plugin: Record<string, unknown> = {}, extend?: (app: FastifyInstance) => void) {
  const clock = fakeClock()
  const store = new MemoryStore()
  const built = await build(t, {
    plugin: { now: clock.now, ...plugin },
    session: { store },
    extend: (app) => {
      addLoginRoutes(app)
      extend?.(app)
    }
  })
  await usersWithBobAndAlice(built.users)
  return { ...built, clock, store }
}

t.test('listLogins: every live login of the user, newest first, the current one marked, with its device', async t => {
  const { app: server, clock } = await app(t)
  const phone = await loginFrom(server, { ua: 'Phone/1.0', ip: '10.0.0.1' })
  clock.advance(1000)
  const laptop = await loginFrom(server, { ua: 'Laptop/2.0', ip: '10.0.0.2' })
  clock.advance(1000)
  const tablet = await loginFrom(server, { ua: 'Tablet/3.0', ip: '10.0.0.3' })
  await loginFrom(server, { ua: 'Alice/1.0' }, 'alice')

  const listed = await listWith(server, { cookie: laptop })
  t.same(listed.map(login => login.userAgent), ['Tablet/3.0', 'Laptop/2.0', 'Phone/1.0'], 'newest first, only bob\'s')
  t.same(listed.map(login => login.current), [false, true, false], 'the login this request carries is current')
  t.same(listed.map(login => login.ip), ['10.0.0.3', '10.0.0.2', '10.0.0.1'])
  const start = clock.now() - 2000
  t.same(listed[2], {
    id: listed[2]?.id,
    backend: 'session',
    createdAt: new Date(start).toISOString(),
    lastSeenAt: new Date(start).toISOString(),
    expiresAt: new Date(start + 14 * 24 * 3600 * 1000).toISOString(),
    userAgent: 'Phone/1.0',
    ip: '10.0.0.1',
    current: false
  }, 'exactly the LoginInfo fields, the default 14-day lifetime')
  t.equal(new Set(listed.map(login => login.id)).size, 3, 'each login has its own id')
  t.same((await listWith(server, { cookie: phone })).map(login => login.current), [false, false, true])
  t.equal((await server.inject({ url: '/logins', headers: { cookie: tablet } })).statusCode, 200)
})

t.test('a login id is not a credential: not the session id, nothing derived from it, and it logs nobody in', async t => {
  const { app: server } = await app(t)
  const cookies = [await loginFrom(server), await loginFrom(server), await loginFrom(server)]
  const listed = await server.inject({ url: '/logins', headers: { cookie: cookies[0] } })
  const body = listed.body
  for (const cookie of cookies) {
    const sid = sidOf(cookie)
    // What a script on the page could read must not contain the session id in any usual encoding or digest.
    for (const form of [sid, Buffer.from(sid, 'base64url').toString('hex'), Buffer.from(sid, 'base64url').toString('base64'),
      createHash('sha256').update(sid).digest('base64url'), createHash('sha256').update(sid).digest('hex'),
      sid.slice(0, 16), sid.slice(-16)]) {
      t.notOk(body.includes(form), 'the listing holds no form of a session id')
    }
  }
  t.notOk(/authHash|_auth_|handle/.test(body), 'nor the auth hash or the record\'s handle')
  for (const { id } of listed.json().logins as Array<{ id: string }>) {
    t.match(id, /^[A-Za-z0-9_-]{22}$/, 'an opaque 128-bit id')
    for (const cookie of [`sessionId=${id}`, `sessionId=${encodeURIComponent(id)}.x`]) {
      t.equal(await statusOf(server, { cookie }), 401, 'the id used as a session cookie is no login')
    }
    t.equal(await statusOf(server, { authorization: `Bearer ${id}` }), 401, 'nor as a bearer token')
  }
})

t.test('endLogin ends one of the user\'s logins: that device is logged out at its next request, the others stay', async t => {
  const { app: server } = await app(t)
  const phone = await loginFrom(server, { ua: 'Phone' })
  const laptop = await loginFrom(server, { ua: 'Laptop' })
  const phoneId = (await listWith(server, { cookie: laptop })).find(login => login.userAgent === 'Phone')?.id
  const ended = await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: laptop }, payload: { id: phoneId } })
  t.same(ended.json(), { ended: true })
  t.equal(await statusOf(server, { cookie: phone }), 401, 'the phone is logged out')
  t.equal(await statusOf(server, { cookie: laptop }), 200, 'the laptop is not')
  t.same((await listWith(server, { cookie: laptop })).map(login => login.userAgent), ['Laptop'])
  const again = await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: laptop }, payload: { id: phoneId } })
  t.same(again.json(), { ended: false }, 'an ended login is not ended twice')
})

t.test('endLogin of the current login logs this request\'s user out too', async t => {
  const { app: server } = await app(t)
  const laptop = await loginFrom(server)
  const [own] = await listWith(server, { cookie: laptop })
  const ended = await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: laptop }, payload: { id: own?.id } })
  t.same(ended.json(), { ended: true })
  t.equal(await statusOf(server, { cookie: laptop }), 401)
  t.equal(await statusOf(server, { cookie: cookieFrom(ended) ?? laptop }), 401, 'whatever cookie the response set')
})

t.test('endLogin with another user\'s login id, or with bad input: false, no 5xx, nothing ended', async t => {
  const { app: server } = await app(t, {}, app => {
    // A call from code with no id at all.
    app.post('/end-nothing', async (request) => ({ ended: await (request.endLogin as (id?: unknown) => Promise<boolean>)() }))
  })
  const bob = await loginFrom(server)
  const bob2 = await loginFrom(server)
  const alice = await loginFrom(server, {}, 'alice')
  const [aliceLogin] = await listWith(server, { cookie: alice })
  const bad: unknown[] = [aliceLogin?.id, 42, null, true, {}, [], [aliceLogin?.id], { id: aliceLogin?.id }, '', 'x'.repeat(10 * 1024),
    'a'.repeat(22), `${aliceLogin?.id}\u0000`, '../auth-user:1', 'auth-login:x']
  for (const id of bad) {
    const response = await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: bob }, payload: { id } })
    t.equal(response.statusCode, 200, `no error for ${JSON.stringify(id)?.slice(0, 40)}`)
    t.same(response.json(), { ended: false })
  }
  t.equal(await statusOf(server, { cookie: alice }), 200, 'alice is still logged in')
  t.equal(await statusOf(server, { cookie: bob2 }), 200, 'and so is every login of bob')
  t.equal((await listWith(server, { cookie: bob })).length, 2)
  t.equal((await listWith(server, { cookie: alice })).length, 1)
  t.same((await server.inject({ method: 'POST', url: '/end-nothing', headers: { cookie: bob } })).json(), { ended: false })
})

t.test('endOtherLogins ends every login of the user but this one, and says how many', async t => {
  const { app: server } = await app(t)
  const others = [await loginFrom(server), await loginFrom(server), await loginFrom(server)]
  const mine = await loginFrom(server)
  const alice = await loginFrom(server, {}, 'alice')
  const response = await server.inject({ method: 'POST', url: '/logins/end-others', headers: { cookie: mine } })
  t.same(response.json(), { ended: 3 })
  for (const cookie of others) t.equal(await statusOf(server, { cookie }), 401, 'another device is logged out')
  t.equal(await statusOf(server, { cookie: mine }), 200, 'this one is not')
  t.equal(await statusOf(server, { cookie: alice }), 200, 'nor another user')
  t.same((await listWith(server, { cookie: mine })).map(login => login.current), [true])
  t.same((await server.inject({ method: 'POST', url: '/logins/end-others', headers: { cookie: mine } })).json(), { ended: 0 })
})

t.test('the request decorators reject an anonymous request with 401 FST_AUTH_UNAUTHORIZED', async t => {
  const { app: server } = await app(t)
  for (const request of [
    { method: 'GET' as const, url: '/logins' },
    { method: 'POST' as const, url: '/logins/end', payload: { id: 'a'.repeat(22) } },
    { method: 'POST' as const, url: '/logins/end-others' }
  ]) {
    const response = await server.inject(request)
    t.equal(response.statusCode, 401, request.url)
    t.equal(response.json().code, 'FST_AUTH_UNAUTHORIZED')
  }
  // A cookie whose login has ended is anonymous too.
  const cookie = await loginFrom(server)
  await server.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal((await server.inject({ url: '/logins', headers: { cookie } })).statusCode, 401)
})

t.test('app.listLogins and app.endLogins: any user\'s logins, for the user or an admin', async t => {
  const { app: server, clock } = await app(t)
  const cookies = [await loginFrom(server, { ua: 'one' })]
  clock.advance(1)
  cookies.push(await loginFrom(server, { ua: 'two' }))
  const alice = await loginFrom(server, {}, 'alice')
  const listed = await server.listLogins(1)
  t.same(listed.map(login => [login.userAgent, login.current]), [['two', false], ['one', false]], 'no login is current off a request')
  t.ok(listed[0]?.createdAt instanceof Date && listed[0]?.lastSeenAt instanceof Date && listed[0]?.expiresAt instanceof Date)
  t.same((await server.listLogins('1')).map(login => login.id), listed.map(login => login.id), 'the id 1 and \'1\' are one user')
  t.equal(await server.endLogins(1), 2)
  for (const cookie of cookies) t.equal(await statusOf(server, { cookie }), 401)
  t.equal(await statusOf(server, { cookie: alice }), 200)
  t.same(await server.listLogins(1), [])
  t.equal(await server.endLogins(1), 0)
  t.equal(await server.endLogins(999), 0, 'a user without logins')

  for (const bad of [undefined, null, '', {}, [], 1.5, Number.NaN, 'x'.repeat(513), true]) {
    for (const call of [() => server.endLogins(bad as never), () => server.listLogins(bad as never)]) {
      await t.rejects(call(), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /takes a user id/ }, `${String(bad).slice(0, 10)} is refused`)
    }
  }
  t.equal(await statusOf(server, { cookie: alice }), 200, 'a refused call ends nothing')
})

t.test('an ended login is refused even when a request of it is in flight and saves its session afterwards', async t => {
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  let arrived!: () => void
  const arriving = new Promise<void>(resolve => { arrived = resolve })
  const { app: server } = await app(t, {}, app => {
    app.post('/slow-write', async (request) => {
      arrived()
      await released
      request.session.set('visits', 1)
      return { user: request.user }
    })
  })
  const phone = await loginFrom(server)
  const inFlight = server.inject({ method: 'POST', url: '/slow-write', headers: { cookie: phone } })
  await arriving
  t.equal(await server.endLogins(1), 1)
  release()
  t.equal((await inFlight).statusCode, 200)
  t.equal(await statusOf(server, { cookie: phone }), 401, 'the stale save did not bring the login back')
  t.same(await server.listLogins(1), [])
})

declare module 'fastify' {
  interface Session {
    visits?: number
  }
}

t.test('over another session store without loginStore, managing logins fails clearly: 500 FST_AUTH_LOGIN_STORE_UNSUPPORTED', async t => {
  // An express-session store of the app's own (connect-redis and the like): get/set/destroy, answering later.
  const entries = new Map<string, unknown>()
  const store = {
    get: (id: string, callback: (error: unknown, value?: unknown) => void) => setImmediate(() => callback(null, entries.get(id))),
    set: (id: string, value: unknown, callback: (error?: unknown) => void) => setImmediate(() => { entries.set(id, value); callback() }),
    destroy: (id: string, callback: (error?: unknown) => void) => setImmediate(() => { entries.delete(id); callback() })
  }
  const { app: server, users } = await build(t, { session: { store }, extend: addLoginRoutes })
  await usersWithBobAndAlice(users)
  const cookie = await loginFrom(server)
  t.equal(await statusOf(server, { cookie }), 200, 'login and logout work as before')
  for (const request of [
    { method: 'GET' as const, url: '/logins' },
    { method: 'POST' as const, url: '/logins/end', payload: { id: 'a'.repeat(22) } },
    { method: 'POST' as const, url: '/logins/end-others' }
  ]) {
    const response = await server.inject({ ...request, headers: { cookie } })
    t.equal(response.statusCode, 500, request.url)
    t.equal(response.json().code, 'FST_AUTH_LOGIN_STORE_UNSUPPORTED')
    t.match(response.json().message, /pass `loginStore`/)
  }
  await t.rejects(server.endLogins(1), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED' })
  await t.rejects(server.listLogins(1), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED' })
})
