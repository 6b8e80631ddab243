import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { MemoryStore } from '@fastify/session'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, hashOf, loginAs } from '../helper'

// SECURITY.md, "Secrets and their rotation": @fastify/session takes an array of secrets (the first signs, all
// verify), so the session secret can be rotated without ending sessions. The auth hash is keyed with
// `authHashSecret`, which defaults to a string session secret: a rotation must name it, and naming the secret that
// keyed it so far is what keeps every login; a new `authHashSecret` ends them all, on purpose.

const NEW_SECRET = 'a-brand-new-session-secret-of-32+-chars'
const AUTH_HASH_SECRET = 'an-auth-hash-secret-kept-apart-32+-chars'

interface Deploy {
  secret: string | string[]
  authHashSecret?: string
}

async function instance (t: { teardown: (fn: () => unknown) => void }, users: TestUsers, store: MemoryStore, deploy: Deploy): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    session: { secret: deploy.secret, store, cookie: { secure: false } },
    hashOptions: TEST_HASH_OPTIONS,
    ...(deploy.authHashSecret === undefined ? {} : { authHashSecret: deploy.authHashSecret })
  })
  addRoutes(app)
  await app.ready()
  return app
}

/** alice logs in on the `before` deploy; who is her cookie on the `after` deploy, sharing the store? */
async function acrossDeploys (t: { teardown: (fn: () => unknown) => void }, before: Deploy, after: Deploy): Promise<unknown> {
  const store = new MemoryStore()
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('pw') })
  const cookie = await loginAs(await instance(t, users, store, before), 'alice', 'pw')
  const next = await instance(t, users, store, after)
  const id = (await next.inject({ url: '/whoami', headers: { cookie } })).json().id
  await loginAs(next, 'alice', 'pw')
  return id
}

t.test('a rotation (an array of session secrets) without authHashSecret is refused at registration', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(auth, { users: new TestUsers(), session: { secret: [NEW_SECRET, SECRET] }, hashOptions: TEST_HASH_OPTIONS })
  await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /`session.secret` is an array/ })
})

t.test('the first rotation keeps every login when authHashSecret names the secret that keyed it so far', async t => {
  t.equal(await acrossDeploys(t, { secret: SECRET }, { secret: [NEW_SECRET, SECRET], authHashSecret: SECRET }), 1)
})

t.test('with authHashSecret set from the start, rotating the session secret keeps every login', async t => {
  const before = { secret: SECRET, authHashSecret: AUTH_HASH_SECRET }
  t.equal(await acrossDeploys(t, before, { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET }), 1)
  t.equal(await acrossDeploys(t, before, { secret: NEW_SECRET, authHashSecret: AUTH_HASH_SECRET }), null,
    'dropping the old session secret at once ends the old cookies: their signature no longer verifies')
})

t.test('a new authHashSecret ends every login: the switch to pull after a suspected leak', async t => {
  t.equal(await acrossDeploys(t, { secret: SECRET }, { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET }), null)
  t.equal(await acrossDeploys(t, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET }, { secret: SECRET, authHashSecret: `${AUTH_HASH_SECRET}-2` }), null)
})
