// A renewal (`login({ user: request.user })`, or a hop to the other backend) continues the login the request carries:
// it must still hold against the user as stored when it completes, and it keeps the login's creation, end and last
// proof. Attacked in every setup the docs present: JWT alone, sessions on a store that only gets and sets (as
// connect-redis), sessions on the default MemoryStore, and JWT with a login store.
import t, { type Test } from 'tap'
import { PassThrough } from 'node:stream'
import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, cookieFrom, hashOf } from '../helper'
import { JsonStore } from './kit'

const JWT_SECRET = 'a-jwt-secret-for-the-renewal-attacks-32ch'
const MINUTE = 60_000

interface Setup {
  name: string
  plugin: () => Record<string, unknown>
  /** How a client carries the login this setup makes. */
  carry: (response: { cookies: Array<{ name: string, value: string }>, json: () => { token?: string | null } }) => Record<string, string>
}

const bearer: Setup['carry'] = response => ({ authorization: `Bearer ${response.json().token as string}` })
const sessionCookie: Setup['carry'] = response => ({ cookie: cookieFrom(response) as string })

const SETUPS: Setup[] = [
  { name: 'JWT without a login store', plugin: () => ({ defaultBackend: 'jwt', jwt: { secret: JWT_SECRET } }), carry: bearer },
  { name: 'JWT with a login store', plugin: () => ({ defaultBackend: 'jwt', jwt: { secret: JWT_SECRET }, loginStore: createMemoryLoginStore() }), carry: bearer },
  { name: 'sessions on a get/set store without a login store', plugin: () => ({ session: { secret: SECRET, cookie: { secure: false }, store: new JsonStore() } }), carry: sessionCookie },
  { name: 'sessions on the MemoryStore', plugin: () => ({ session: { secret: SECRET, cookie: { secure: false } } }), carry: sessionCookie }
]

async function appOf (t: Test, setup: Setup, clock: { now: number }, extra: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, users: TestUsers }> {
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, now: () => clock.now, ...setup.plugin(), ...extra } as never)
  app.post('/login', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    return { token: await request.login({ user: await request.authenticate(username, password) }) ?? null }
  })
  // The documented renewal, with a body: the handler runs once the whole body is in.
  app.post('/renew', { preHandler: app.requireUser }, async (request) => {
    const backend = (request.body as { backend?: 'session' | 'jwt' } | undefined)?.backend
    return { token: await request.login({ user: request.user as object, ...(backend === undefined ? {} : { backend }) }) ?? null }
  })
  app.get('/me', { preHandler: app.requireUser }, async (request) => ({ id: request.getUserId() }))
  app.get('/sudo', { preHandler: [app.requireUser, app.requireRecentLogin(5 * MINUTE)] }, async () => ({ ok: true }))
  await app.ready()
  return { app, users }
}

async function loginOf (app: FastifyInstance, setup: Setup, password = 'alice-pw'): Promise<Record<string, string>> {
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password } })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return setup.carry(response)
}

for (const setup of SETUPS) {
  t.test(`${setup.name}: a renewal whose body arrives after a password reset gets no login`, async t => {
    const clock = { now: Date.now() }
    const { app, users } = await appOf(t, setup, clock)
    const stolen = await loginOf(app, setup)
    const body = new PassThrough()
    const renewal = app.inject({ method: 'POST', url: '/renew', headers: { ...stolen, 'content-type': 'application/json' }, payload: body })
    body.write('{"pad":"')
    // The thief's request is past onRequest (its user resolved) and waits for its body; the victim resets.
    await new Promise(resolve => setImmediate(resolve))
    await app.setPassword(users.byId.get(1) as object, 'a-new-password')
    body.end('x"}')
    const response = await renewal
    t.equal(response.statusCode, 401, 'the renewal is refused: the login it continues ended with the old password')
    t.equal(response.json().code, 'FST_AUTH_UNAUTHORIZED')
    const issued = response.json().token as string | undefined
    if (typeof issued === 'string') {
      t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${issued}` } })).statusCode, 401, 'no token it issued works')
    }
    const cookie = cookieFrom(response)
    if (cookie !== undefined) t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, 'no cookie it set works')
    t.equal((await app.inject({ url: '/me', headers: stolen })).statusCode, 401, 'the stolen login is over')
    t.equal((await app.inject({ url: '/me', headers: await loginOf(app, setup, 'a-new-password') })).statusCode, 200, 'the owner logs in with the new password')
  })

  t.test(`${setup.name}: renewals keep the last proof and the end of the login`, async t => {
    // The clock runs behind the wall clock, as a login made an hour ago would: tokens are signed at the wall clock.
    const clock = { now: Date.now() - 60 * MINUTE }
    const { app } = await appOf(t, setup, clock, { logins: { maxAge: 70 * MINUTE } })
    let carried = await loginOf(app, setup)
    t.equal((await app.inject({ url: '/sudo', headers: carried })).statusCode, 200, 'a fresh login passes requireRecentLogin')
    for (const minutes of [20, 40, 60]) {
      clock.now += 20 * MINUTE
      const renewed = await app.inject({ method: 'POST', url: '/renew', headers: carried })
      t.equal(renewed.statusCode, 200, `a renewal ${minutes} minutes in`)
      carried = setup.carry(renewed)
      const sudo = await app.inject({ url: '/sudo', headers: carried })
      t.equal(sudo.statusCode, 401, 'a renewal is not a proof of the password')
      t.equal(sudo.json().code, 'FST_AUTH_REAUTHENTICATION_REQUIRED')
    }
    clock.now += 11 * MINUTE
    t.equal((await app.inject({ url: '/me', headers: carried })).statusCode, 401, 'renewed or not, the login ends at logins.maxAge')
    t.equal((await app.inject({ method: 'POST', url: '/renew', headers: carried })).statusCode, 401, 'and cannot be renewed past it')
  })
}

t.test('hopping between sessions and tokens keeps the login\'s proof and end', async t => {
  const clock = { now: Date.now() - 60 * MINUTE }
  const setup: Setup = {
    name: 'both',
    plugin: () => ({ session: { secret: SECRET, cookie: { secure: false } }, jwt: { secret: JWT_SECRET } }),
    carry: sessionCookie
  }
  const { app } = await appOf(t, setup, clock, { logins: { maxAge: 70 * MINUTE } })
  const session = await loginOf(app, setup)
  clock.now += 30 * MINUTE
  // A stale session asks for a token, the token for a session, and so on: each hop a login of the other backend.
  let headers = session
  for (let hop = 0; hop < 4; hop++) {
    const backend = hop % 2 === 0 ? 'jwt' : 'session'
    const response = await app.inject({ method: 'POST', url: '/renew', headers, payload: { backend } })
    t.equal(response.statusCode, 200, `hop ${hop + 1} to ${backend}`)
    headers = backend === 'jwt' ? bearer(response) : sessionCookie(response)
    const sudo = await app.inject({ url: '/sudo', headers })
    t.equal(sudo.json().code, 'FST_AUTH_REAUTHENTICATION_REQUIRED', 'the hop proved nothing')
    clock.now += 5 * MINUTE
  }
  clock.now += 21 * MINUTE
  t.equal((await app.inject({ url: '/me', headers })).statusCode, 401, 'the last hop ends when the first login does')
})

t.test('a renewal by a token no store keeps cannot outlive its login either when the token is minted later', async t => {
  const clock = { now: Date.now() - 60 * MINUTE }
  const { app } = await appOf(t, SETUPS[0] as Setup, clock, { logins: { maxAge: 30 * MINUTE } })
  const token = await loginOf(app, SETUPS[0] as Setup)
  clock.now += 31 * MINUTE
  t.equal((await app.inject({ url: '/me', headers: token })).statusCode, 401, 'an access token within its `exp` is refused past its login\'s end')
})
