import t from 'tap'
import Fastify, { type FastifyRequest } from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth, { authenticate } from '../../lib/index'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, cookieFrom, hashOf, userIndexKey } from '../helper'

// The door's refusals as each caller sees them, and the setups a way in can meet.

async function appWith (t: Parameters<Parameters<typeof t.test>[1]>[0], users: TestUsers, plugin: Record<string, unknown> = {}) {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, session: { secret: SECRET, cookie: { secure: false } }, ...plugin } as never)
  app.post('/login', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    await request.login({ user: await request.authenticate(username, password) })
    return { ok: true }
  })
  app.post('/password', async (request) => {
    const { current, next } = request.body as { current: string, next: string }
    await request.changePassword(current, next)
    return { ok: true }
  })
  app.get('/me', async (request) => ({ id: (request.user as { id?: number } | null)?.id ?? null }))
  await app.ready()
  return app
}

t.test('a password change whose login ended while its hash was stored answers 401 and keeps nobody logged in', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('old password') })
  const app = await appWith(t, users)
  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'old password' } })) as string
  // "Sign out everywhere", from another request, lands while the new hash is being written.
  users.updatePasswordHash = async (user, hash) => {
    await app.endLogins(1)
    user.password = hash
  }
  const change = await app.inject({ method: 'POST', url: '/password', headers: { cookie }, payload: { current: 'old password', next: 'new password' } })
  t.equal(change.statusCode, 401)
  t.equal(change.json().code, 'FST_AUTH_UNAUTHORIZED')
  t.equal(cookieFrom(change), undefined, 'no cookie of a login that did not happen')
  t.same((await app.inject({ url: '/me', headers: { cookie } })).json(), { id: null })
})

t.test('an app that registered @fastify/session itself keeps its logins in its own loginStore', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const loginStore = createMemoryLoginStore()
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, cookie: { secure: false } })
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, loginStore, authHashSecret: SECRET } as never)
  app.post('/login', async (request) => {
    await request.login({ user: await request.authenticate('ann', 'pw') })
    return { ok: true }
  })
  app.get('/logins', async (request) => (await request.listLogins()).length)
  await app.ready()
  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/login' })) as string
  t.equal((await app.inject({ url: '/logins', headers: { cookie } })).body, '1')
  t.equal((await loginStore.entries(userIndexKey(1))).length, 1, 'the record and index entry are in the app\'s store')
})

t.test('the request-first functions refuse a request of an app without the plugin', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.get('/', async (request: FastifyRequest) => await authenticate(request, 'ann', 'pw'))
  const response = await app.inject({ url: '/' })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, 'FST_AUTH_INVALID_ARGUMENT')
  t.match(response.json().message, /not registered/)
})
