import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, cookieFrom, hashOf, loginAs, TestUsers } from '../helper'
import { JWT_SECRET } from '../jwt/helper'
import { spyOnVerify } from '../helper'
import { sessionStoreLogins } from '../../lib/login-store/memory'
import { MemoryStore } from '@fastify/session'

const MINUTE = 60_000
const HOUR = 60 * MINUTE
const DAY = 24 * HOUR

/** A clock the test moves by hand: every login time the plugin reads comes from it. */
function fakeClock (): { now: () => number, advance: (ms: number) => void } {
  let time = Date.now()
  return { now: () => time, advance: (ms) => { time += ms } }
}

interface Setup {
  plugin?: Record<string, unknown>
  session?: Record<string, unknown>
}

async function setup (t: Parameters<typeof build>[0], options: Setup = {}) {
  const clock = fakeClock()
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('pw2') })
  const { app } = await build(t, {
    users,
    session: options.session,
    plugin: { now: clock.now, ...options.plugin },
    extend: (app) => {
      app.post('/login-remember', async (request) => {
        const { username, password, remember } = request.body as { username: string, password: string, remember: boolean }
        const user = await request.authenticate(username, password)
        await request.login({ user, remember })
        return { ok: true }
      })
      app.post('/renew', { preHandler: app.requireUser }, async (request) => {
        await request.login({ user: request.user as NonNullable<typeof request.user> })
        return { ok: true }
      })
      app.post('/cart', async (request) => {
        request.session.set('cart', String(Math.random()))
        return { user: request.user === null ? null : 'someone' }
      })
      app.post('/sudo', { preHandler: [app.requireUser, app.requireRecentLogin(5 * MINUTE)] }, async () => ({ ok: true }))
      app.post('/confirm', { preHandler: app.requireUser }, async (request) => {
        await request.reauthenticate((request.body as { password: unknown }).password as string)
        return { ok: true }
      })
    }
  })
  return { app, clock, users }
}

async function who (app: FastifyInstance, cookie: string): Promise<string | null> {
  const response = await app.inject({ url: '/whoami', headers: { cookie } })
  return response.json().user?.username ?? null
}

t.test('the absolute lifetime ends an active login, on the plugin\'s clock, whatever the session store does', async t => {
  const { app, clock } = await setup(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  for (let day = 0; day < 13; day++) {
    clock.advance(DAY)
    // A session written to now and then: MemoryStore pushes the entry's expiry out at every save.
    const cart = await app.inject({ method: 'POST', url: '/cart', headers: { cookie } })
    t.equal(cart.json().user, 'someone')
  }
  t.equal(await who(app, cookie), 'ann', 'alive after 13 days of use')
  clock.advance(DAY)
  t.equal(await who(app, cookie), null, 'ended after 14 days (the default logins.maxAge), used or not')
  clock.advance(-10 * DAY)
  t.equal(await who(app, cookie), null, 'and it stays ended: the record was removed')
})

t.test('without `remember`, the configured cookie.maxAge is the login\'s absolute lifetime, even when saves push it out', async t => {
  const { app, clock } = await setup(t, { session: { cookie: { secure: false, maxAge: HOUR } } })
  const cookie = await loginAs(app, 'ann', 'pw')
  for (let i = 0; i < 5; i++) {
    clock.advance(11 * MINUTE)
    await app.inject({ method: 'POST', url: '/cart', headers: { cookie } })
  }
  t.equal(await who(app, cookie), 'ann', '55 minutes in')
  clock.advance(6 * MINUTE)
  t.equal(await who(app, cookie), null, 'one hour after login it has ended')
})

t.test('remember: a persistent cookie and the long lifetime, or a browser-session cookie and the short one', async t => {
  const { app, clock } = await setup(t, { plugin: { logins: { maxAge: 30 * DAY, browserSessionMaxAge: 8 * HOUR } } })
  const remembered = await app.inject({ method: 'POST', url: '/login-remember', payload: { username: 'ann', password: 'pw', remember: true } })
  const forgotten = await app.inject({ method: 'POST', url: '/login-remember', payload: { username: 'bob', password: 'pw2', remember: false } })
  const plain = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  const sessionCookie = (response: typeof plain) => response.cookies.find(c => c.name === 'sessionId')
  const persistent = sessionCookie(remembered)
  t.ok(persistent?.expires instanceof Date, 'remember: true sets Expires')
  t.ok(Math.abs((persistent?.expires as Date).getTime() - (Date.now() + 30 * DAY)) < MINUTE, 'for logins.maxAge')
  t.equal(sessionCookie(forgotten)?.expires, undefined, 'remember: false sets no Expires')
  t.equal(sessionCookie(forgotten)?.maxAge, undefined, 'nor Max-Age')
  t.equal(sessionCookie(plain)?.expires, undefined, 'no remember: the configured cookie (no maxAge here)')

  const ann = cookieFrom(remembered) as string
  const bob = cookieFrom(forgotten) as string
  clock.advance(8 * HOUR - MINUTE)
  t.same([await who(app, ann), await who(app, bob)], ['ann', 'bob'])
  clock.advance(2 * MINUTE)
  t.same([await who(app, ann), await who(app, bob)], ['ann', null], 'the remember: false login ends after browserSessionMaxAge')
  clock.advance(30 * DAY)
  t.equal(await who(app, ann), null, 'the remembered one after logins.maxAge')

  const invalid = await app.inject({ method: 'POST', url: '/login-remember', payload: { username: 'ann', password: 'pw', remember: 'yes' } })
  t.equal(invalid.statusCode, 500, 'a remember that is not a boolean is refused')
  t.equal(invalid.json().code, 'FST_AUTH_INVALID_ARGUMENT', 'as a bad call from the app, not a client error')
})

t.test('the idle timeout ends an unused login; activity extends it, never past the absolute lifetime', async t => {
  const { app, clock } = await setup(t, { plugin: { logins: { idleTimeout: 30 * MINUTE, maxAge: 2 * HOUR } } })
  const active = await loginAs(app, 'ann', 'pw')
  const idle = await loginAs(app, 'bob', 'pw2')
  clock.advance(20 * MINUTE)
  t.equal(await who(app, active), 'ann')
  clock.advance(20 * MINUTE)
  t.equal(await who(app, active), 'ann', '40 minutes after login, used 20 minutes ago')
  t.equal(await who(app, idle), null, 'unused for 40 minutes: ended')
  for (let i = 0; i < 5; i++) {
    clock.advance(20 * MINUTE)
    await who(app, active)
  }
  t.equal(await who(app, active), null, 'used every 20 minutes, it still ends 2 hours after login')
})

t.test('lastSeenAt is written at most once per touchInterval', async t => {
  const store = new MemoryStore() as MemoryStore & { store: Map<string, { record?: { seenAt: number } }> }
  const { app, clock } = await setup(t, { session: { store } })
  const cookie = await loginAs(app, 'ann', 'pw')
  const record = () => [...store.store.entries()].find(([key]) => key.startsWith('auth-login:'))?.[1].record
  const loggedIn = record()?.seenAt as number
  const sets: string[] = []
  const set = store.set.bind(store)
  store.set = (id, value, callback) => { sets.push(id); set(id, value, callback) }
  for (let i = 0; i < 5; i++) {
    clock.advance(10_000)
    await who(app, cookie)
  }
  t.equal(record()?.seenAt, loggedIn, 'nothing written in the first 50 seconds')
  t.same(sets, [], 'no store write at all')
  clock.advance(10_000)
  await who(app, cookie)
  t.equal(record()?.seenAt, loggedIn + 60_000, 'written once the minute has passed')
  t.equal(sets.filter(id => id.startsWith('auth-login:')).length, 1, 'by one write')
})

t.test('renewing a login keeps its creation time: login({ user }) never extends the absolute lifetime', async t => {
  const { app, clock } = await setup(t, { plugin: { logins: { maxAge: 2 * HOUR } } })
  let cookie = await loginAs(app, 'ann', 'pw')
  for (let i = 0; i < 3; i++) {
    clock.advance(30 * MINUTE)
    const renewed = await app.inject({ method: 'POST', url: '/renew', headers: { cookie } })
    t.equal(renewed.statusCode, 200)
    const next = cookieFrom(renewed) as string
    t.not(next, cookie, 'a new session id')
    t.equal(await who(app, cookie), null, 'the old id is dead')
    cookie = next
  }
  clock.advance(31 * MINUTE)
  t.equal(await who(app, cookie), null, 'two hours after the first login, renewed three times, it has ended')
})

t.test('requireRecentLogin and reauthenticate: the sudo window on the plugin\'s clock', async t => {
  const { app, clock } = await setup(t)
  const verifies = spyOnVerify(t)
  t.equal((await app.inject({ method: 'POST', url: '/sudo' })).json().code, 'FST_AUTH_UNAUTHORIZED', 'anonymous: 401 unauthorized')
  const cookie = await loginAs(app, 'ann', 'pw')
  const sudo = () => app.inject({ method: 'POST', url: '/sudo', headers: { cookie } })
  const confirm = (password: unknown) => app.inject({ method: 'POST', url: '/confirm', headers: { cookie }, payload: { password } })
  t.equal((await sudo()).statusCode, 200, 'just logged in with a password')
  clock.advance(5 * MINUTE + 1)
  const stale = await sudo()
  t.equal(stale.statusCode, 401)
  t.equal(stale.json().code, 'FST_AUTH_REAUTHENTICATION_REQUIRED')

  verifies.length = 0
  const wrong = await confirm('not-it')
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'FST_AUTH_AUTHENTICATION_FAILED')
  t.equal(verifies.length, 1, 'a wrong password costs one argon2 verify, as authenticate()')
  t.equal((await sudo()).json().code, 'FST_AUTH_REAUTHENTICATION_REQUIRED', 'a wrong password changes nothing')
  for (const junk of [42, ['pw'], { pw: 1 }, '', 'x'.repeat(5000)]) {
    const response = await confirm(junk)
    t.equal(response.json().code, 'FST_AUTH_AUTHENTICATION_FAILED', `${JSON.stringify(junk).slice(0, 20)}: the same 401`)
  }
  t.equal(await who(app, cookie), 'ann', 'and the login goes on')

  const right = await confirm('pw')
  t.equal(right.statusCode, 200)
  t.equal((await sudo()).statusCode, 200, 'the login has just proved its password')
  clock.advance(4 * MINUTE)
  t.equal((await sudo()).statusCode, 200)
  clock.advance(2 * MINUTE)
  t.equal((await sudo()).statusCode, 401, 'until the window passes again')

  const renewed = cookieFrom(await app.inject({ method: 'POST', url: '/renew', headers: { cookie } })) as string
  t.equal((await app.inject({ method: 'POST', url: '/sudo', headers: { cookie: renewed } })).statusCode, 401,
    'renewing the session id is not a password proof')

  t.throws(() => app.requireRecentLogin(0), { code: 'FST_AUTH_INVALID_ARGUMENT' })
  t.throws(() => app.requireRecentLogin(Number.NaN as number), { code: 'FST_AUTH_INVALID_ARGUMENT' })
})

t.test('a reauthentication racing a logout does not revive the login', async t => {
  const clock = fakeClock()
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  let release: () => void = () => {}
  const held = new Promise<void>(resolve => { release = resolve })
  const { app } = await build(t, {
    users,
    plugin: { now: clock.now },
    extend: (app) => {
      app.post('/slow-confirm', { preHandler: app.requireUser }, async (request) => {
        await held
        await request.reauthenticate('pw')
        return { ok: true }
      })
    }
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  const confirming = app.inject({ method: 'POST', url: '/slow-confirm', headers: { cookie } })
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  release()
  const response = await confirming
  t.equal(response.statusCode, 401, 'the reauthentication finds the login ended')
  t.equal(response.json().code, 'FST_AUTH_UNAUTHORIZED')
  t.equal(await who(app, cookie), null, 'and it stays ended')
})

t.test('logout() and getUserId() follow the login that authenticated the request', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('pw2') })
  const loginStore = sessionStoreLogins(new MemoryStore() as never, true, Date.now)
  const { app } = await build(t, {
    users,
    plugin: { jwt: { secret: JWT_SECRET }, loginStore },
    extend: (app) => {
      app.post('/api/login', async (request) => {
        const { username, password } = request.body as { username: string, password: string }
        return { token: await request.login({ user: await request.authenticate(username, password), backend: 'jwt' }) }
      })
    }
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  const token = (await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'bob', password: 'pw2' } })).json().token
  const bearer = { authorization: `Bearer ${token}` }
  const whoami = await app.inject({ url: '/whoami', headers: bearer })
  t.same(whoami.json().id, 2, 'getUserId() names the token\'s user on a bearer request (the default backend is session)')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer })).statusCode, 200)
  t.same((await app.inject({ url: '/whoami', headers: bearer })).json(), { user: null, id: null }, 'the bearer logout ended the token')
  t.equal(await who(app, cookie), 'ann', 'and left the session alone')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  t.equal(await who(app, cookie), null)
  t.same((await app.inject({ method: 'POST', url: '/logout' })).json(), { user: null }, 'an anonymous logout uses the default backend')
})

t.test('JWT logins: remember, the absolute lifetime and the sudo window, with a login store', async t => {
  const clock = fakeClock()
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const loginStore = sessionStoreLogins(new MemoryStore() as never, true, clock.now)
  const { app } = await build(t, {
    users,
    plugin: {
      defaultBackend: 'jwt',
      now: clock.now,
      loginStore,
      jwt: { secret: JWT_SECRET, cookie: { name: 'token', secure: false }, expiresIn: '1h' },
      logins: { maxAge: 30 * MINUTE, browserSessionMaxAge: 10 * MINUTE }
    },
    extend: (app) => {
      app.post('/login-remember', async (request) => {
        const { remember } = request.body as { remember?: boolean }
        return { token: await request.login({ user: await request.authenticate('ann', 'pw'), remember }) }
      })
      app.post('/sudo', { preHandler: [app.requireUser, app.requireRecentLogin(5 * MINUTE)] }, async () => ({ ok: true }))
      app.post('/confirm', { preHandler: app.requireUser }, async (request) => {
        await request.reauthenticate('pw')
        return { ok: true }
      })
    }
  })
  const login = (remember?: boolean) => app.inject({ method: 'POST', url: '/login-remember', payload: remember === undefined ? {} : { remember } })
  const forgotten = await login(false)
  const remembered = await login(true)
  const tokenCookie = (response: typeof forgotten) => response.cookies.find(c => c.name === 'token')
  t.equal(tokenCookie(forgotten)?.maxAge, undefined, 'remember: false: the token cookie has no Max-Age')
  t.equal(tokenCookie(remembered)?.maxAge, 3600, 'remember: true: it lives as long as the token')
  const bearer = (response: typeof forgotten) => ({ authorization: `Bearer ${response.json().token as string}` })
  const whoIs = async (response: typeof forgotten) => (await app.inject({ url: '/whoami', headers: bearer(response) })).json().user?.username ?? null

  clock.advance(6 * MINUTE)
  const sudo = await app.inject({ method: 'POST', url: '/sudo', headers: bearer(remembered) })
  t.equal(sudo.json().code, 'FST_AUTH_REAUTHENTICATION_REQUIRED')
  t.equal((await app.inject({ method: 'POST', url: '/confirm', headers: bearer(remembered) })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/sudo', headers: bearer(remembered) })).statusCode, 200, 'the same token, now recent')

  clock.advance(5 * MINUTE)
  t.same([await whoIs(forgotten), await whoIs(remembered)], [null, 'ann'], 'remember: false ended at browserSessionMaxAge')
  clock.advance(20 * MINUTE)
  t.equal(await whoIs(remembered), null, 'the absolute lifetime ends a token before its exp')
})

t.test('login lifetime options are validated', async t => {
  const bad: Array<[unknown, RegExp]> = [
    [{ maxAge: 0 }, /logins\.maxAge/],
    [{ maxAge: 1.5 }, /logins\.maxAge/],
    [{ idleTimeout: -1 }, /logins\.idleTimeout/],
    [{ idleTimeout: 60_000 }, /twice/],
    [{ browserSessionMaxAge: 20 * DAY }, /must not exceed/],
    [{ ttl: 1 }, /logins\.ttl/],
    ['14d', /`logins` must be an object/]
  ]
  for (const [logins, message] of bad) {
    await t.rejects(build(t, { plugin: { logins } }), { code: 'FST_AUTH_INVALID_OPTION', message }, JSON.stringify(logins))
  }
  await t.rejects(build(t, { plugin: { now: 5 } }), { code: 'FST_AUTH_INVALID_OPTION', message: /`now`/ })
  await t.rejects(build(t, { plugin: { loginStore: { get () {} } } }), { code: 'FST_AUTH_INVALID_OPTION', message: /loginStore\.create/ })
  await t.rejects(build(t, { plugin: { loginStore: 'redis' } }), { code: 'FST_AUTH_INVALID_OPTION', message: /loginStore/ })
})

t.test('JWT logins kept in a store: a renewal keeps the login, loses to a logout, and a 5xx ends the login it made', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const memory = sessionStoreLogins(new MemoryStore() as never, true, Date.now)
  let failEnd = false
  const loginStore = { ...memory, removeEntry: (...args: Parameters<NonNullable<typeof memory.removeEntry>>) => failEnd ? Promise.reject(new Error('down')) : (memory.removeEntry as NonNullable<typeof memory.removeEntry>)(...args) }
  let release: () => void = () => {}
  let held = Promise.resolve()
  const logs: string[] = []
  const { app } = await build(t, {
    users,
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } },
    plugin: { defaultBackend: 'jwt', jwt: { secret: JWT_SECRET }, loginStore },
    extend: (app) => {
      app.post('/renew', { preHandler: app.requireUser }, async (request) => {
        await held
        return { token: await request.login({ user: request.user as NonNullable<typeof request.user> }) }
      })
      app.post('/login-then-fail', async (request, reply) => {
        await request.login({ user: await request.authenticate('ann', 'pw') })
        return reply.code(500).send({ failed: true })
      })
    }
  })
  const token = (await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })).json().token as string
  const bearer = (value: string) => ({ authorization: `Bearer ${value}` })
  const renewed = await app.inject({ method: 'POST', url: '/renew', headers: bearer(token) })
  t.equal(renewed.statusCode, 200)
  const next = renewed.json().token as string
  t.equal((await app.inject({ url: '/me', headers: bearer(next) })).statusCode, 200, 'the renewed token works')
  t.equal((await app.inject({ url: '/me', headers: bearer(token) })).statusCode, 401, 'the token before it does not')
  t.equal((await app.listLogins(1)).length, 1, 'still one login')

  held = new Promise<void>(resolve => { release = resolve })
  const renewing = app.inject({ method: 'POST', url: '/renew', headers: bearer(next) })
  await new Promise(resolve => setTimeout(resolve, 20))
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: bearer(next) })).statusCode, 200)
  release()
  t.equal((await renewing).statusCode, 401, 'a renewal that a logout overtook is refused')
  t.same(await app.listLogins(1), [], 'and no login is left')

  const failed = await app.inject({ method: 'POST', url: '/login-then-fail' })
  t.equal(failed.statusCode, 500)
  t.same(await app.listLogins(1), [], 'the login a 5xx made is ended in the store too')
  failEnd = true
  t.equal((await app.inject({ method: 'POST', url: '/login-then-fail' })).statusCode, 500)
  t.ok(logs.some(line => line.includes('could not end the record of a failed token login')), 'a failure to end it is logged')
})

t.test('reauthenticate on a JWT login that no store keeps says what it needs', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    plugin: { defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } },
    extend: (app) => {
      app.post('/confirm', { preHandler: app.requireUser }, async (request) => {
        await request.reauthenticate('pw')
        return {}
      })
    }
  })
  const token = (await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })).json().token as string
  const response = await app.inject({ method: 'POST', url: '/confirm', headers: { authorization: `Bearer ${token}` } })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, 'FST_AUTH_LOGIN_STORE_UNSUPPORTED')
})

t.test('with a login store, a token made without one (no sid) is not taken: nothing could end it', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const stateless = await build(t, { users, plugin: { defaultBackend: 'jwt', jwt: { secret: JWT_SECRET }, authHashSecret: 'z'.repeat(32) } })
  const kept = await build(t, {
    users,
    plugin: {
      defaultBackend: 'jwt',
      jwt: { secret: JWT_SECRET },
      authHashSecret: 'z'.repeat(32),
      loginStore: sessionStoreLogins(new MemoryStore() as never, true, Date.now)
    }
  })
  const token = (await stateless.app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })).json().token as string
  const bearer = { authorization: `Bearer ${token}` }
  t.equal((await stateless.app.inject({ url: '/me', headers: bearer })).statusCode, 200, 'it works where it was made')
  t.equal((await kept.app.inject({ url: '/me', headers: bearer })).statusCode, 401, 'and not where logins are kept')
})

t.test('a session login over a session whose own login this request did not read ends that login', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('pw2') })
  const { app } = await build(t, {
    users,
    plugin: { jwt: { secret: JWT_SECRET } },
    extend: (app) => {
      app.post('/api/login', async (request) => ({ token: await request.login({ user: await request.authenticate('bob', 'pw2'), backend: 'jwt' }) }))
    }
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  const token = (await app.inject({ method: 'POST', url: '/api/login' })).json().token as string
  // The bearer token decides this request, so ann's session login is never read; logging bob into the session ends it.
  const response = await app.inject({ method: 'POST', url: '/login-id', payload: { userId: 2 }, headers: { cookie, authorization: `Bearer ${token}` } })
  t.equal(response.statusCode, 200)
  t.equal(await who(app, cookie), null, 'ann\'s old session cookie is dead')
  t.equal(await who(app, cookieFrom(response) as string), 'bob')
})
