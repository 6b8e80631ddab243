import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { MemoryStore } from '@fastify/session'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, hashOf, loginAs } from '../helper'

// SECURITY.md, "Secrets rotation": @fastify/session takes an array of secrets (the first signs, all verify), so the
// session secret can be rotated without ending sessions. The auth hash is keyed with `authHashSecret`, which
// defaults to the first session secret: rotating then also changes every login's auth hash, and ends them all.

const NEW_SECRET = 'a-brand-new-session-secret-of-32+-chars'
const AUTH_HASH_SECRET = 'an-auth-hash-secret-kept-apart-32+-chars'

async function instance (t: { teardown: (fn: () => unknown) => void }, users: TestUsers, store: MemoryStore,
  secret: string | string[], authHashSecret?: string): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    session: { secret, store, cookie: { secure: false } },
    hashOptions: TEST_HASH_OPTIONS,
    ...(authHashSecret === undefined ? {} : { authHashSecret })
  })
  addRoutes(app)
  await app.ready()
  return app
}

for (const authHashSecret of [undefined, AUTH_HASH_SECRET]) {
  const kept = authHashSecret !== undefined
  t.test(`rotating the session secret ${kept ? 'keeps logins when authHashSecret is set' : 'ends every login when authHashSecret is left to default'}`, async t => {
    const store = new MemoryStore()
    const users = new TestUsers()
    users.add({ id: 1, username: 'alice', password: await hashOf('pw') })
    const before = await instance(t, users, store, SECRET, authHashSecret)
    const cookie = await loginAs(before, 'alice', 'pw')
    t.equal((await before.inject({ url: '/whoami', headers: { cookie } })).json().id, 1)

    // The deploy after rotation: the new secret first, the old one still accepted.
    const after = await instance(t, users, store, [NEW_SECRET, SECRET], authHashSecret)
    const seen = await after.inject({ url: '/whoami', headers: { cookie } })
    t.equal(seen.json().id, kept ? 1 : null, kept ? 'the login survives the rotation' : 'the login is over')
    t.equal((await loginAs(after, 'alice', 'pw')).length > 0, true, 'logging in again works either way')
  })
}
