// Every password check names the account it was for, a hash upgrade is not a password change, and an upgrade never
// puts back a password that was replaced while it was being hashed.
import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, cookieFrom, hashOf, loginAs } from '../helper'
import { JsonStore } from './kit'

interface Failure { username: string | null, userId: unknown, reason: string, requestShown: boolean }

async function passwordApp (t: Test, options: { users: TestUsers, plugin?: Record<string, unknown>, failures?: Failure[] }): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users: options.users,
    hashOptions: TEST_HASH_OPTIONS,
    session: { secret: SECRET, cookie: { secure: false } },
    onLoginFailed: (event: Failure & { request: unknown }) => {
      options.failures?.push({ username: event.username, userId: event.userId, reason: event.reason, requestShown: Object.keys(event).includes('request') })
    },
    ...options.plugin
  } as never)
  app.post('/login', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    await request.login({ user: await request.authenticate(username, password) })
    return { id: request.getUserId() }
  })
  app.post('/confirm', { preHandler: app.requireUser }, async (request) => {
    await request.reauthenticate((request.body as { password: unknown }).password as string)
    return { ok: true }
  })
  app.post('/password', { preHandler: app.requireUser }, async (request) => {
    const { current, next } = request.body as { current: unknown, next: string }
    await request.changePassword(current as string, next)
    return { ok: true }
  })
  app.get('/sudo', { preHandler: [app.requireUser, app.requireRecentLogin(60_000)] }, async () => ({ ok: true }))
  await app.ready()
  return app
}

t.test('a wrong password confirmed by a logged-in user names the account, in reauthenticate and in changePassword', async t => {
  const users = new TestUsers()
  users.add({ id: 7, username: 'alice', password: await hashOf('alice-pw') })
  const failures: Failure[] = []
  const app = await passwordApp(t, { users, failures })
  const cookie = await loginAs(app, 'alice', 'alice-pw')
  const post = async (url: string, payload: Record<string, unknown>): Promise<number> =>
    (await app.inject({ method: 'POST', url, headers: { cookie }, payload })).statusCode
  t.equal(await post('/confirm', { password: 'guess-1' }), 401)
  t.equal(await post('/confirm', { password: 42 }), 401)
  t.equal(await post('/password', { current: 'guess-2', next: 'a new password' }), 401)
  t.equal(await post('/password', { current: ['guess-3'], next: 'a new password' }), 401)
  t.same(failures, [
    { username: null, userId: 7, reason: 'wrong-password', requestShown: false },
    { username: null, userId: 7, reason: 'invalid-input', requestShown: false },
    { username: null, userId: 7, reason: 'wrong-password', requestShown: false },
    { username: null, userId: 7, reason: 'invalid-input', requestShown: false }
  ], 'each check raised onLoginFailed with the account\'s id')
  failures.length = 0
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'nope' } })).statusCode, 401)
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'nobody', password: 'nope' } })).statusCode, 401)
  t.same(failures.map(({ username, userId }) => ({ username, userId })), [
    { username: 'alice', userId: 7 },
    { username: 'nobody', userId: null }
  ], 'a login names the account when there is one')
})

t.test('a correct reauthenticate after hashOptions were raised keeps the login, on the deploy that upgrades the hash', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  // Two instances on one store: the login made before the deploy, confirmed after it.
  const store = new JsonStore()
  const loginStore = createMemoryLoginStore()
  const before = await passwordApp(t, { users, plugin: { session: { secret: SECRET, cookie: { secure: false }, store }, loginStore } })
  const after = await passwordApp(t, { users, plugin: { session: { secret: SECRET, cookie: { secure: false }, store }, loginStore, hashOptions: { ...TEST_HASH_OPTIONS, timeCost: 5 } } })
  const cookie = await loginAs(before, 'alice', 'alice-pw')
  const oldHash = users.byId.get(1)?.password
  const confirm = await after.inject({ method: 'POST', url: '/confirm', headers: { cookie }, payload: { password: 'alice-pw' } })
  t.equal(confirm.statusCode, 200)
  t.not(users.byId.get(1)?.password, oldHash, 'the hash was upgraded')
  t.match(users.byId.get(1)?.password, /t=5/)
  const sudo = await after.inject({ url: '/sudo', headers: { cookie } })
  t.equal(sudo.statusCode, 200, 'the confirmed login is still logged in, and recent')
  t.equal((await before.inject({ url: '/sudo', headers: { cookie } })).statusCode, 200, 'on the other instance too')
})

t.test('a hash upgrade racing a password reset does not put the old password back', async t => {
  const users = new TestUsers()
  const alice = users.add({ id: 1, username: 'alice', password: await hashOf('old-pw') })
  const resetHash = await hashOf('reset-pw')
  let resetNow = false
  const app = await passwordApp(t, {
    users,
    plugin: {
      hashOptions: { ...TEST_HASH_OPTIONS, timeCost: 5 },
      // Called once the old password has been verified and before the upgrade is hashed: the reset lands right then.
      isActive: (user: { password?: unknown }) => {
        if (resetNow && user === alice) {
          resetNow = false
          alice.password = resetHash
        }
        return true
      }
    }
  })
  resetNow = true
  const racing = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'old-pw' } })
  t.equal(alice.password, resetHash, 'the reset\'s hash stays')
  t.equal(users.calls.updatePasswordHash, 0, 'nothing was written over it')
  t.equal((await app.inject({ url: '/sudo', headers: { cookie: cookieFrom(racing) as string } })).statusCode, 401, 'the racing login ended with its password')
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'old-pw' } })).statusCode, 401, 'the old password is gone')
  t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'reset-pw' } })).statusCode, 200, 'the new one works')
})

t.test('requestPasswordReset never hands a user store a username it cannot hold', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  const asked: string[] = []
  const strict = Object.assign(Object.create(users) as TestUsers, {
    findByUsername: async (username: string) => {
      asked.push(username)
      // What PostgreSQL answers to a NUL in text.
      if (username.includes('\u0000')) throw new Error('invalid byte sequence for encoding "UTF8": 0x00')
      return await users.findByUsername(username)
    }
  })
  const logged: unknown[] = []
  const app = Fastify({ logger: { level: 'error', stream: { write: (line: string) => { logged.push(JSON.parse(line)) } } } })
  t.teardown(() => app.close())
  const sent: string[] = []
  await app.register(auth, { users: strict, hashOptions: TEST_HASH_OPTIONS, session: { secret: SECRET, cookie: { secure: false } } } as never)
  await app.ready()
  for (const username of ['alice\u0000', '\u0000', 'al\u0000ice', 'alice']) {
    app.requestPasswordReset(username, { send: ({ username }) => { sent.push(username) } })
  }
  await app.close()
  t.same(asked, ['alice'], 'only the username a store can hold was looked up')
  t.same(sent, ['alice'])
  t.same(logged, [], 'and nothing was logged at error level')
})
