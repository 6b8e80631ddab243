// Row 13, revocation: after a logout, a password change, a deactivation or a deletion, every older session of that
// user stops authenticating on its very next request, on every instance sharing the store, and is cleaned out of the
// store. (The JWT backend's variants, with revocation hooks, are added when that backend lands.)
import t from 'tap'
import * as argon2 from 'argon2'
import { TEST_HASH_OPTIONS, TestUsers, hashOf, loginAs } from '../helper'
import { JsonStore, buildApp, sessionIdOf, whoIs } from './kit'

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

t.test('a hash upgrade at login keeps that login, even when the store does not update the user object', async t => {
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
  const { app } = await buildApp(t, { users })
  // Hashed with weaker parameters than the app's: the login upgrades it.
  const weak = await argon2.hash('alice-pw', { ...TEST_HASH_OPTIONS, memoryCost: 512, type: argon2.argon2id })
  rows.set(1, { id: 1, username: 'alice', password: weak })

  const cookie = await loginAs(app, 'alice', 'alice-pw')
  t.equal(users.calls.updatePasswordHash, 1, 'the hash was upgraded')
  t.not(rows.get(1)?.password, weak)
  t.same(await whoIs(app, cookie), { status: 200, username: 'alice' }, 'the login that upgraded the hash stands')
  t.not(sessionIdOf(cookie), '')
})
