// Row 4, store faults: every store call that login, an authenticated request, logout and a stale-login cleanup make
// is broken in turn (an error, no answer at all, or an answer long after session.storeTimeout). Each time the request
// answers 5xx, no session left in the store authenticates as someone it should not, and a failed logout is never
// reported as done (a retry once the store is back finishes it).
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { TestUsers, cookieFrom, hashOf, loginAs } from '../helper'
import { FaultyStore, buildApp, loggedInSessions, whoIs, type FaultMode, type StoreCall } from './kit'

const STORE_TIMEOUT = 50
const MODES: FaultMode[] = ['fail', 'hang', 'late']

interface Context {
  app: FastifyInstance
  store: FaultyStore
  users: TestUsers
}

interface Flow {
  name: string
  rolling?: boolean
  /** The state before the flow, built with a working store; returns the cookie the flow sends. */
  prepare (ctx: Context): Promise<string | undefined>
  run (ctx: Context, cookie: string | undefined): Promise<LightMyRequestResponse>
  /** What must hold once the flow failed and the store works again. */
  check (t: tap.Test, ctx: Context, cookie: string | undefined, response: LightMyRequestResponse, mode: FaultMode): Promise<void>
}

const headers = (cookie: string | undefined) => cookie === undefined ? {} : { cookie }
const loginBob = (ctx: Context, cookie: string | undefined) =>
  ctx.app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'bob-pw' }, headers: headers(cookie) })

/** After a failed login as bob: bob is logged in nowhere, and the cookie sent keeps the user it had (or none). */
function failedLoginCheck (before: string | null) {
  return async (t: tap.Test, ctx: Context, cookie: string | undefined, response: LightMyRequestResponse, mode: FaultMode) => {
    t.notMatch(response.body, /bob/, 'the 5xx does not carry the user')
    const handedOut = cookieFrom(response)
    if (handedOut !== undefined) t.not((await whoIs(ctx.app, handedOut)).username, 'bob', 'the 5xx response\'s cookie is not bob')
    if (cookie !== undefined) t.ok([before, null].includes((await whoIs(ctx.app, cookie)).username), 'the cookie sent did not become bob')
    // Not even a session whose cookie nobody was given, including one that a write landing late put there.
    t.notOk((await loggedInSessions(ctx.app, ctx.store)).includes('bob'), `no session in the store is bob (${mode})`)
  }
}

async function notAuthenticatedResponse (t: tap.Test, _ctx: Context, _cookie: string | undefined, response: LightMyRequestResponse) {
  t.notMatch(response.body, /alice/, 'the 5xx does not carry the user')
}

const flows: Flow[] = [
  {
    name: 'login with no session',
    prepare: async () => undefined,
    run: loginBob,
    check: failedLoginCheck(null)
  },
  {
    name: 'login over an anonymous session',
    prepare: async (ctx) => cookieFrom(await ctx.app.inject({ method: 'POST', url: '/visit' })),
    run: loginBob,
    check: failedLoginCheck(null)
  },
  {
    name: 'login as bob over alice\'s session',
    prepare: (ctx) => loginAs(ctx.app, 'alice', 'alice-pw'),
    run: loginBob,
    check: failedLoginCheck('alice')
  },
  {
    name: 'an authenticated request',
    prepare: (ctx) => loginAs(ctx.app, 'alice', 'alice-pw'),
    run: (ctx, cookie) => ctx.app.inject({ url: '/me', headers: headers(cookie) }),
    check: notAuthenticatedResponse
  },
  {
    name: 'an authenticated request with rolling sessions',
    rolling: true,
    prepare: (ctx) => loginAs(ctx.app, 'alice', 'alice-pw'),
    run: (ctx, cookie) => ctx.app.inject({ url: '/me', headers: headers(cookie) }),
    check: notAuthenticatedResponse
  },
  {
    name: 'logout',
    prepare: (ctx) => loginAs(ctx.app, 'alice', 'alice-pw'),
    run: (ctx, cookie) => ctx.app.inject({ method: 'POST', url: '/logout', headers: headers(cookie) }),
    async check (t, ctx, cookie, response) {
      t.notMatch(response.body, /"user":null/, 'the failed logout is not reported as done')
      const retry = await ctx.app.inject({ method: 'POST', url: '/logout', headers: headers(cookie) })
      t.equal(retry.statusCode, 200, 'a retry once the store is back succeeds')
      t.same(await whoIs(ctx.app, cookie), { status: 200, username: null }, 'and the cookie is anonymous after it')
      t.same(ctx.store.records(), [])
    }
  },
  {
    name: 'the cleanup of a deactivated user\'s login',
    async prepare (ctx) {
      const cookie = await loginAs(ctx.app, 'alice', 'alice-pw')
      const alice = ctx.users.byId.get(1)
      if (alice !== undefined) alice.isActive = false
      return cookie
    },
    run: (ctx, cookie) => ctx.app.inject({ url: '/me', headers: headers(cookie) }),
    async check (t, ctx, cookie, response) {
      await notAuthenticatedResponse(t, ctx, cookie, response)
      t.same(await whoIs(ctx.app, cookie), { status: 200, username: null }, 'the deactivated user stays logged out')
      t.same(await loggedInSessions(ctx.app, ctx.store), [])
    }
  }
]

function describeCall (call: StoreCall | undefined): string {
  if (call === undefined) return 'a call that was not made'
  return `${call.method} of the ${call.kind}${call.inRegenerate ? ' by session.regenerate()' : ''}`
}

async function setup (t: tap.Test, rolling: boolean): Promise<Context> {
  const store = new FaultyStore(STORE_TIMEOUT * 3)
  const users = new TestUsers()
  const { app } = await buildApp(t, {
    users,
    session: { store, rolling, storeTimeout: STORE_TIMEOUT },
    routes (app) {
      app.post('/visit', async (request) => {
        request.session.set('visited', true)
        return {}
      })
    }
  })
  return { app, store, users }
}

// The two users' hashes, made once: the flows reset the users before each of their ~150 runs, and a password that
// never changes needs no new hash (its salt has no part in what a store fault does).
let hashes: Promise<[string, string]> | undefined

async function resetUsers (users: TestUsers): Promise<void> {
  hashes ??= Promise.all([hashOf('alice-pw'), hashOf('bob-pw')])
  const [alice, bob] = await hashes
  users.byId.clear()
  users.add({ id: 1, username: 'alice', password: alice })
  users.add({ id: 2, username: 'bob', password: bob })
}

for (const flow of flows) {
  t.test(`store faults during ${flow.name}`, async t => {
    const ctx = await setup(t, flow.rolling === true)

    await resetUsers(ctx.users)
    ctx.store.record()
    const cookie = await flow.prepare(ctx)
    ctx.store.record()
    const clean = await flow.run(ctx, cookie)
    t.equal(clean.statusCode, flow.name.includes('deactivated') ? 401 : 200, 'the flow works with a working store')
    const calls = ctx.store.calls
    t.ok(calls.length > 0, `the flow makes ${calls.length} store calls`)

    for (let at = 0; at < calls.length; at++) {
      for (const mode of MODES) {
        await t.test(`${mode}: call ${at + 1}/${calls.length}, ${describeCall(calls[at])}`, async t => {
          ctx.store.record()
          ctx.store.data.clear()
          await resetUsers(ctx.users)
          const cookie = await flow.prepare(ctx)
          ctx.store.breakCall(at, mode)
          const response = await flow.run(ctx, cookie)
          t.ok(ctx.store.calls.length > at, 'the broken call was made')
          t.equal(response.statusCode, 503, 'answers 503')
          t.equal(response.json().code, mode === 'fail' ? 'FST_AUTH_STORE_ERROR' : 'FST_AUTH_STORE_TIMEOUT')
          ctx.store.record()
          await ctx.store.settled()
          await flow.check(t, ctx, cookie, response, mode)
        })
      }
    }
  })
}

t.test('the flows cover session.regenerate() failing', async t => {
  const ctx = await setup(t, false)
  await resetUsers(ctx.users)
  for (const flow of [flows[0], flows[5]] as Flow[]) {
    ctx.store.record()
    const cookie = await flow.prepare(ctx)
    ctx.store.record()
    await flow.run(ctx, cookie)
    t.ok(ctx.store.calls.some(call => call.inRegenerate), `${flow.name} regenerates the session`)
  }
})

t.test('a route that throws after login() answers 5xx with no login behind it', async t => {
  const store = new FaultyStore()
  const users = new TestUsers()
  await resetUsers(users)
  const { app } = await buildApp(t, {
    users,
    session: { store },
    routes (app) {
      // An app whose audit log write fails right after the login.
      app.post('/login-then-fail', async (request) => {
        await request.login({ userId: (request.body as { userId: number }).userId })
        const status = (request.body as { status: number }).status
        throw Object.assign(new Error('the audit log is down'), { statusCode: status })
      })
    }
  })
  for (const status of [500, 503, undefined]) {
    const response = await app.inject({ method: 'POST', url: '/login-then-fail', payload: { userId: 2, status } })
    t.equal(response.statusCode, status ?? 500)
    t.equal(cookieFrom(response), undefined, `a ${response.statusCode} hands out no session cookie`)
    t.same(store.records(), [], 'the login record is deleted')
    t.same(await loggedInSessions(app, store), [], 'no session in the store is logged in')
  }

  // A 4xx is the app's answer, not a failure: the login it made stands (Django saves the session on a 4xx too).
  const refused = await app.inject({ method: 'POST', url: '/login-then-fail', payload: { userId: 2, status: 403 } })
  t.equal(refused.statusCode, 403)
  t.same(await whoIs(app, cookieFrom(refused)), { status: 200, username: 'bob' })
})

t.test('a route that throws after login() on the JWT backend sends no token cookie with its 5xx', async t => {
  const users = new TestUsers()
  await resetUsers(users)
  const { app } = await buildApp(t, {
    users,
    plugin: { defaultBackend: 'jwt', jwt: { secret: 'a-jwt-secret-for-the-fault-tests-that-is-long', cookie: { name: 'token', secure: false } } },
    routes (app) {
      app.post('/login-then-fail', async (request) => {
        await request.login({ userId: 2 })
        const status = (request.body as { status: number }).status
        throw Object.assign(new Error('the audit log is down'), { statusCode: status })
      })
    }
  })
  for (const status of [500, 503]) {
    const response = await app.inject({ method: 'POST', url: '/login-then-fail', payload: { userId: 2, status } })
    t.equal(response.statusCode, status)
    t.equal(cookieFrom(response, 'token'), undefined, `a ${status} hands out no token cookie`)
  }
  const refused = await app.inject({ method: 'POST', url: '/login-then-fail', payload: { status: 403 } })
  t.equal(refused.statusCode, 403)
  const token = cookieFrom(refused, 'token')
  t.ok(token, 'a 4xx keeps the login, as on the session backend')
  t.same(await whoIs(app, token), { status: 200, username: 'bob' })
})

t.test('a failed login whose record cannot be deleted either is still not handed out', async t => {
  const store = new FaultyStore()
  const users = new TestUsers()
  await resetUsers(users)
  const logs: string[] = []
  const { app } = await buildApp(t, {
    users,
    session: { store },
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { logs.push(line) } } } }
  })
  // The dry run: 3 calls (regenerate's destroy, the record's set, the save; regenerate's own write of the new session
  // is skipped, see lib/session/ids.ts); then the save fails and so does the deletion of the record that follows.
  store.breakCall(2, 'fail')
  const original = store.destroy.bind(store)
  store.destroy = (id, callback) => id.startsWith('auth-login:') ? callback(new Error('still down')) : original(id, callback)
  const response = await loginBob({ app, store, users }, undefined)
  t.equal(response.statusCode, 503)
  t.equal(cookieFrom(response), undefined)
  t.equal(store.records().length, 1, 'the record stays, unreachable')
  t.same(await loggedInSessions(app, store), [])
  t.ok(logs.some(line => line.includes('could not delete the record of a failed login')), 'the leftover is logged')
})
