import t from 'tap'
import { MemoryStore } from '@fastify/session'
import type { FastifyReply } from 'fastify'
import { build, hashOf } from '../helper'
import { JWT_SECRET } from '../jwt/helper'
import { sessionStoreLogins } from '../../lib/login-store/memory'
import type { LoginStore } from '../../lib/login-store/contract'
import type { SessionStore } from '../../lib/store'
import { fakeClock, loginFrom, addLoginRoutes } from '../login/helper'

// What managing logins costs a request: nothing for an anonymous one, no store call beyond reading the login's own
// record for an authenticated one, and a `seenAt` write at most once per touchInterval, after the response.

interface Call { method: string, key: string, answered: boolean }

/** The default in-memory login store, with every call written down, and `update` held while `holdUpdates` is set. */
function countingStore (now: () => number) {
  const inner = sessionStoreLogins(new MemoryStore() as SessionStore, true, now) as Required<LoginStore>
  const calls: Call[] = []
  const control = { holdUpdates: false, lastReply: null as FastifyReply | null, sentBeforeUpdate: [] as boolean[] }
  const store: Record<string, unknown> = {}
  for (const method of Object.keys(inner) as Array<keyof LoginStore>) {
    store[method] = (...args: unknown[]) => {
      calls.push({ method, key: String(args[0]).replace(/:.*/, ':'), answered: true })
      if (method === 'update') {
        control.sentBeforeUpdate.push(control.lastReply?.raw.headersSent === true && control.lastReply.sent)
        if (control.holdUpdates) return new Promise(() => {})
      }
      return (inner[method] as (...a: unknown[]) => unknown)(...args)
    }
  }
  return { store: store as unknown as LoginStore, calls, control }
}

async function app (t: Parameters<typeof build>[0]) {
  const clock = fakeClock()
  const counting = countingStore(clock.now)
  const { app: server, users } = await build(t, {
    plugin: { now: clock.now, loginStore: counting.store, jwt: { secret: JWT_SECRET } },
    extend: (app) => {
      addLoginRoutes(app)
      app.addHook('onRequest', async (_request, reply) => { counting.control.lastReply = reply })
      app.post('/login-jwt', async (request) => ({ token: await request.login({ userId: 1, backend: 'jwt' }) }))
    }
  })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  return { server, clock, ...counting }
}

t.test('an anonymous request makes no store call', async t => {
  const { server, calls } = await app(t)
  await server.inject({ url: '/whoami' })
  await server.inject({ url: '/whoami', headers: { cookie: 'sessionId=nonsense' } })
  t.same(calls, [])
})

t.test('an authenticated request reads its own record and nothing else: no index, no write', async t => {
  const { server, calls } = await app(t)
  const cookie = await loginFrom(server)
  const token = (await server.inject({ method: 'POST', url: '/login-jwt' })).json().token as string
  calls.length = 0
  for (let i = 0; i < 5; i++) t.equal((await server.inject({ url: '/me', headers: { cookie } })).statusCode, 200)
  t.same(calls.map(call => `${call.method} ${call.key}`), Array(5).fill('get auth-login:'), 'one record read per request')
  calls.length = 0
  t.equal((await server.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })).statusCode, 200)
  t.same(calls.map(call => `${call.method} ${call.key}`), ['get auth-login:'], 'the same for a JWT login')
})

t.test('lastSeenAt is written at most once per touchInterval, after the response, and shows in the listing', async t => {
  const { server, calls, clock, control } = await app(t)
  const cookie = await loginFrom(server)
  const createdAt = clock.now()
  const updates = (): number => calls.filter(call => call.method === 'update').length
  clock.advance(59_999)
  await server.inject({ url: '/me', headers: { cookie } })
  t.equal(updates(), 0, 'not within the interval')
  clock.advance(1)
  for (let i = 0; i < 3; i++) await server.inject({ url: '/me', headers: { cookie } })
  t.equal(updates(), 1, 'once when it is due, not on each request after')
  t.same(control.sentBeforeUpdate, [true], 'written after the response had gone')
  const [login] = (await server.inject({ url: '/logins', headers: { cookie } })).json().logins
  t.equal(login.lastSeenAt, new Date(createdAt + 60_000).toISOString())
  t.equal(login.createdAt, new Date(createdAt).toISOString())

  clock.advance(60_000)
  control.holdUpdates = true
  const response = await server.inject({ url: '/me', headers: { cookie } })
  t.equal(response.statusCode, 200, 'a store that never answers the write does not hold the response')
  t.equal(updates(), 2)
})

t.test('a touch that fails is logged, not answered', async t => {
  const logs: string[] = []
  const clock = fakeClock()
  const counting = countingStore(clock.now)
  const failing = { ...counting.store, update: async () => { throw new Error('redis down') } }
  const { app: server, users } = await build(t, {
    fastify: { logger: { level: 'warn', stream: { write: (line: string) => { logs.push(line) } } } },
    plugin: { now: clock.now, loginStore: failing }
  })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const cookie = await loginFrom(server)
  clock.advance(60_000)
  t.equal((await server.inject({ url: '/me', headers: { cookie } })).statusCode, 200)
  await new Promise(resolve => setImmediate(resolve))
  t.ok(logs.some(line => line.includes('could not record when the login was last seen')))
})
