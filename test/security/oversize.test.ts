// Row 7, over-long input: a password over maxPasswordLength UTF-8 bytes (default 4096) or a username over
// maxUsernameLength (default 512) is refused before the user store and before argon2, so a megabyte of password costs
// no hashing; a body over Fastify's bodyLimit is refused with 413 before the route runs at all.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { hashOf } from '../helper'
import { buildApp, spyOnVerify } from './kit'

async function setup (t: tap.Test, plugin: Record<string, unknown> = {}) {
  const { app, users } = await buildApp(t, {
    plugin,
    routes (app: FastifyInstance) {
      // The recommended login route: a body limit sized for credentials, not Fastify's 1 MiB default.
      app.post('/login-small', { bodyLimit: 16 * 1024 }, async (request) => {
        const { username, password } = request.body as { username: string, password: string }
        await request.login({ user: await request.authenticate(username, password) })
        return { ok: true }
      })
    }
  })
  return { app, users, verifies: spyOnVerify(t) }
}

t.test('passwords over the byte limit are refused unhashed', async t => {
  const { app, users, verifies } = await setup(t)
  const atLimit = 'p'.repeat(4096)
  users.add({ id: 1, username: 'alice', password: await hashOf(atLimit) })

  const cases: Array<[string, string]> = [
    ['4097 ASCII bytes', 'p'.repeat(4097)],
    ['1366 three-byte characters (4098 bytes, 1366 characters)', '€'.repeat(1366)],
    ['1025 four-byte emoji (4100 bytes, 2050 UTF-16 units)', '😀'.repeat(1025)],
    ['a megabyte minus the JSON around it', 'p'.repeat(1024 * 1024 - 100)]
  ]
  for (const [name, password] of cases) {
    verifies.length = 0
    const lookups = users.calls.findByUsername
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password } })
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.equal(verifies.length, 0, `${name}: never hashed`)
    t.equal(users.calls.findByUsername, lookups, `${name}: never looked up`)
  }

  verifies.length = 0
  const exact = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: atLimit } })
  t.equal(exact.statusCode, 200, 'a password of exactly 4096 bytes still logs in')
  t.equal(verifies.length, 1)
})

t.test('maxPasswordLength and maxUsernameLength move the limits', async t => {
  const { app, users, verifies } = await setup(t, { maxPasswordLength: 64, maxUsernameLength: 16 })
  users.add({ id: 1, username: 'a'.repeat(16), password: await hashOf('p'.repeat(64)) })
  const attempt = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/login', payload: { username, password } })
  t.equal((await attempt('a'.repeat(16), 'p'.repeat(64))).statusCode, 200, 'at both limits: logs in')
  verifies.length = 0
  t.equal((await attempt('a'.repeat(16), 'p'.repeat(65))).statusCode, 401)
  t.equal((await attempt('a'.repeat(17), 'p'.repeat(64))).statusCode, 401)
  t.equal(verifies.length, 0, 'neither was hashed')
})

t.test('usernames over the byte limit are refused before the user store', async t => {
  const { app, users, verifies } = await setup(t)
  for (const username of ['u'.repeat(513), 'é'.repeat(257), 'u'.repeat(100_000)]) {
    const lookups = users.calls.findByUsername
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password: 'x' } })
    t.equal(response.statusCode, 401)
    t.equal(users.calls.findByUsername, lookups, `${username.length} characters: never looked up`)
  }
  t.equal(verifies.length, 0)
})

t.test('bodies over Fastify\'s bodyLimit give 413 before the route runs', async t => {
  const { app, users, verifies } = await setup(t)
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  const huge = JSON.stringify({ username: 'alice', password: 'p'.repeat(1024 * 1024) })
  const response = await app.inject({ method: 'POST', url: '/login', payload: huge, headers: { 'content-type': 'application/json' } })
  t.equal(response.statusCode, 413)
  t.equal(response.json().code, 'FST_ERR_CTP_BODY_TOO_LARGE')

  const small = JSON.stringify({ username: 'alice', password: 'p'.repeat(20 * 1024) })
  const routeLimit = await app.inject({ method: 'POST', url: '/login-small', payload: small, headers: { 'content-type': 'application/json' } })
  t.equal(routeLimit.statusCode, 413, 'a route bodyLimit of 16 KiB refuses 20 KiB')

  t.equal(users.calls.findByUsername, 0)
  t.equal(verifies.length, 0)
})

t.test('app.hashPassword refuses what a login would refuse, so no account gets a password it can never use', async t => {
  const { app } = await setup(t, { maxPasswordLength: 64 })
  await t.rejects(app.hashPassword('p'.repeat(65)), { code: 'FST_AUTH_INVALID_ARGUMENT' })
  await t.rejects(app.hashPassword('€'.repeat(22)), { code: 'FST_AUTH_INVALID_ARGUMENT' }, '66 bytes in 22 characters')
  t.match(await app.hashPassword('p'.repeat(64)), /^\$argon2id\$/)
})
