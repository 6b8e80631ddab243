// Row 13, revocation: after a logout, a password change, a deactivation or a deletion, every older session of that
// user stops authenticating on its very next request, on every instance sharing the store, and is cleaned out of the
// store. The same for tokens of the JWT backend, with its revocation hooks backed by a store both instances share.
import t from 'tap'
import * as argon2 from 'argon2'
import type { FastifyInstance } from 'fastify'
import { TEST_HASH_OPTIONS, TestUsers, cookieFrom, hashOf, loginAs } from '../helper'
import { JsonStore, buildApp, whoIs } from './kit'

async function setup (t: tap.Test, users = new TestUsers()) {
  const store = new JsonStore()
  const one = await buildApp(t, { users, session: { store } })
  const two = await buildApp(t, { users, session: { store } })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('bob-pw') })
  const alice = [await loginAs(one.app, 'alice', 'alice-pw'), await loginAs(two.app, 'alice', 'alice-pw')]
  const bob = await loginAs(one.app, 'bob', 'bob-pw')
  return { apps: [one.app, two.app], users, store, alice, bob }
}

type Setup = Awaited<ReturnType<typeof setup>>

async function checkRevoked (t: tap.Test, { apps, store, alice, bob }: Setup) {
  for (const app of apps) {
    for (const cookie of alice) {
      t.same(await whoIs(app, cookie), { status: 200, username: null }, 'an old session of alice is anonymous')
      t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
    }
  }
  for (const cookie of alice) t.equal(store.sessionOf(cookie), undefined, 'and gone from the store')
  t.equal(store.records().length, 1, 'only bob\'s login record is left')
  t.same(await whoIs(apps[0] as never, bob), { status: 200, username: 'bob' }, 'bob is untouched')
}

t.test('after logout, on the next request', async t => {
  const s = await setup(t)
  for (const cookie of s.alice) {
    t.equal((await s.apps[1]?.inject({ method: 'POST', url: '/logout', headers: { cookie } }))?.statusCode, 200)
  }
  await checkRevoked(t, s)
})

t.test('after a password change made outside the plugin (an admin reset, another device)', async t => {
  const s = await setup(t)
  const alice = s.users.byId.get(1) as { password: string }
  alice.password = await hashOf('new-pw')
  await checkRevoked(t, s)
  t.equal((await s.apps[0]?.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'new-pw' } }))?.statusCode, 200)
})

t.test('after a password change to the same password (a new salt is a new hash)', async t => {
  const s = await setup(t)
  const alice = s.users.byId.get(1) as { password: string }
  alice.password = await hashOf('alice-pw')
  await checkRevoked(t, s)
})

t.test('after deactivation; a session seen while inactive stays dead after reactivation', async t => {
  const s = await setup(t)
  const alice = s.users.byId.get(1) as { isActive?: boolean }
  alice.isActive = false
  await checkRevoked(t, s)
  alice.isActive = true
  for (const cookie of s.alice) t.same(await whoIs(s.apps[0] as never, cookie), { status: 200, username: null })
})

t.test('after deletion; an account that reuses the id is not logged in by the old session', async t => {
  const s = await setup(t)
  s.users.byId.delete(1)
  await checkRevoked(t, s)

  const again = await setup(t)
  again.users.byId.delete(1)
  again.users.add({ id: 1, username: 'mallory', password: await hashOf('mallory-pw') })
  for (const cookie of again.alice) t.same(await whoIs(again.apps[0] as never, cookie), { status: 200, username: null })
})

for (const backend of ['session', 'jwt'] as const) {
  t.test(`a hash upgrade at login keeps that login, even when the store does not update the user object (${backend})`, async t => {
    // A user store backed by a database: updatePasswordHash writes the row, findById reads it back as a new object.
    const rows = new Map<number, { id: number, username: string, password: string }>()
    const users = new TestUsers()
    users.findByUsername = async (username) => {
      for (const row of rows.values()) if (row.username === username) return { ...row }
      return undefined
    }
    users.findById = async (id) => {
      const row = rows.get(Number(id))
      return row === undefined ? undefined : { ...row }
    }
    users.updatePasswordHash = async (user, hash) => {
      users.calls.updatePasswordHash++
      const row = rows.get(user.id)
      if (row !== undefined) row.password = hash
    }
    const plugin = backend === 'jwt' ? { defaultBackend: 'jwt', jwt: { secret: 'a-jwt-secret-for-the-revocation-tests-42' } } : {}
    const { app } = await buildApp(t, { users, plugin })
    // Hashed with weaker parameters than the app's: the login upgrades it.
    const weak = await argon2.hash('alice-pw', { ...TEST_HASH_OPTIONS, memoryCost: 512, type: argon2.argon2id })
    rows.set(1, { id: 1, username: 'alice', password: weak })

    const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'alice-pw' } })
    t.equal(login.statusCode, 200)
    t.equal(users.calls.updatePasswordHash, 1, 'the hash was upgraded')
    t.not(rows.get(1)?.password, weak)
    const who = backend === 'jwt'
      ? await bearerWho(app, login.json().token)
      : await whoIs(app, cookieFrom(login))
    t.same(who, { status: 200, username: 'alice' }, 'the login that upgraded the hash stands')
  })
}

/** Two instances on the JWT backend, their revocation hooks sharing one store, as they would share Redis. */
async function setupTokens (t: tap.Test, cacheSize: number) {
  const users = new TestUsers()
  const revoked = new Map<string, number>()
  const jwt = {
    secret: 'a-jwt-secret-for-the-revocation-tests-42',
    cacheSize,
    revoke: async (claims: { jti: string, exp: number }) => { revoked.set(claims.jti, claims.exp) },
    isRevoked: async (claims: { jti: string }) => revoked.has(claims.jti)
  }
  const apps = []
  for (let i = 0; i < 2; i++) apps.push((await buildApp(t, { users, plugin: { defaultBackend: 'jwt', jwt } })).app)
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('bob-pw') })
  const token = async (app: FastifyInstance, username: string) => {
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password: `${username}-pw` } })
    return response.json().token as string
  }
  const alice = [await token(apps[0] as FastifyInstance, 'alice'), await token(apps[1] as FastifyInstance, 'alice')]
  const bob = await token(apps[0] as FastifyInstance, 'bob')
  return { apps: apps as FastifyInstance[], users, revoked, alice, bob }
}

async function bearerWho (app: FastifyInstance, token: string) {
  const response = await app.inject({ url: '/whoami', headers: { authorization: `Bearer ${token}` } })
  return { status: response.statusCode, username: response.json().user?.username ?? null }
}

async function checkTokensRevoked (t: tap.Test, { apps, alice, bob }: Awaited<ReturnType<typeof setupTokens>>) {
  for (const app of apps) {
    for (const token of alice) {
      t.same(await bearerWho(app, token), { status: 200, username: null }, 'an old token of alice is anonymous')
      const me = await app.inject({ url: '/me', headers: { authorization: `Bearer ${token}` } })
      t.equal(me.statusCode, 401)
    }
    t.same(await bearerWho(app, bob), { status: 200, username: 'bob' }, 'bob\'s token is untouched')
  }
}

for (const cacheSize of [1000, 0]) {
  const cache = `verification cache ${cacheSize === 0 ? 'off' : 'on'}`

  t.test(`tokens: after logout, with revocation hooks (${cache})`, async t => {
    const s = await setupTokens(t, cacheSize)
    for (const token of s.alice) t.same(await bearerWho(s.apps[1] as FastifyInstance, token), { status: 200, username: 'alice' })
    for (const token of s.alice) {
      const logout = await s.apps[1]?.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${token}` } })
      t.equal(logout?.statusCode, 200)
    }
    t.equal(s.revoked.size, 2, 'both tokens were recorded as revoked')
    await checkTokensRevoked(t, s)
  })

  t.test(`tokens: after a password change (${cache})`, async t => {
    const s = await setupTokens(t, cacheSize)
    for (const token of s.alice) await bearerWho(s.apps[0] as FastifyInstance, token)
    ;(s.users.byId.get(1) as { password: string }).password = await hashOf('alice-pw')
    await checkTokensRevoked(t, s)
  })

  t.test(`tokens: after deactivation; a token seen while inactive stays dead after reactivation (${cache})`, async t => {
    const s = await setupTokens(t, cacheSize)
    const alice = s.users.byId.get(1) as { isActive?: boolean }
    alice.isActive = false
    await checkTokensRevoked(t, s)
    alice.isActive = true
    for (const token of s.alice) t.same(await bearerWho(s.apps[1] as FastifyInstance, token), { status: 200, username: null })
  })

  t.test(`tokens: after deletion; an account that reuses the id is not logged in by the old token (${cache})`, async t => {
    const s = await setupTokens(t, cacheSize)
    s.users.byId.delete(1)
    await checkTokensRevoked(t, s)

    // The id taken over before the old tokens are seen again: the auth hash, not revocation, turns them away.
    const again = await setupTokens(t, cacheSize)
    again.users.byId.delete(1)
    again.users.add({ id: 1, username: 'mallory', password: await hashOf('mallory-pw') })
    for (const token of again.alice) t.same(await bearerWho(again.apps[0] as FastifyInstance, token), { status: 200, username: null })
    t.equal(again.revoked.size, 2, 'and are then revoked as stale')
  })
}
