import t from 'tap'
import * as argon2 from 'argon2'
import { AuthenticationError } from '../../lib/index'
import { TEST_HASH_OPTIONS, TestUsers, build, hashOf } from '../helper'
import { spyOnVerify } from '../helper'

async function setup (t: Parameters<typeof build>[0], plugin: Record<string, unknown> = {}) {
  const users = new TestUsers()
  const events: Array<{ username: string | null, reason: string }> = []
  const built = await build(t, {
    users,
    plugin: { onLoginFailed: ({ username, reason }: { username: string | null, reason: string }) => { events.push({ username, reason }) }, ...plugin }
  })
  const check = (username: unknown, password: unknown) =>
    built.app.inject({ method: 'POST', url: '/check', payload: { username, password } })
  return { ...built, users, events, check }
}

t.test('the right password gives the user, without touching the session', async t => {
  const { users, check } = await setup(t)
  users.add({ id: 7, username: 'ann', password: await hashOf('s3cret') })
  const response = await check('ann', 's3cret')
  t.equal(response.statusCode, 200)
  t.same(response.json(), { id: 7 })
  t.equal(response.headers['set-cookie'], undefined, 'no session was saved')
})

t.test('every failure is the same 401 after exactly one argon2 verify with the current parameters', async t => {
  const { app, users, check, events } = await setup(t)
  users.add({ id: 1, username: 'ann', password: await hashOf('right') })
  users.add({ id: 2, username: 'off', password: await hashOf('right'), isActive: false })
  users.add({ id: 3, username: 'nohash' })
  users.add({ id: 4, username: 'junk', password: '$argon2id$v=19$m=1024,t=1,p=1$bm90$YmFk' })
  users.add({ id: 5, username: 'plain', password: 'right' })
  const cases: Array<[string, string, string]> = [
    ['unknown user', 'nobody', 'unknown-user'],
    ['inactive user, right password', 'off', 'inactive'],
    ['user without a hash', 'nohash', 'no-password'],
    ['malformed stored hash', 'junk', 'no-password'],
    ['a hash that is not argon2', 'plain', 'no-password'],
    ['wrong password', 'ann', 'wrong-password']
  ]
  const bodies = new Set<string>()
  for (const [name, username, reason] of cases) {
    const calls = spyOnVerify(t)
    const before = calls.length
    const response = await check(username, username === 'ann' ? 'wrong' : 'right')
    t.equal(response.statusCode, 401, name)
    t.equal(response.json().code, 'FST_AUTH_AUTHENTICATION_FAILED', name)
    bodies.add(response.body)
    t.equal(calls.length - before, 1, `${name}: one verify`)
    const params = argon2.needsRehash(calls[calls.length - 1]!.digest, TEST_HASH_OPTIONS)
    t.equal(params, false, `${name}: verified against a hash with the current parameters`)
    t.same(events.at(-1), { username, reason }, `${name}: onLoginFailed says why`)
  }
  t.equal(bodies.size, 1, 'one body for every failure')
  t.ok(app)
})

t.test('inactive users are checked after the password, so a wrong password does not reveal them', async t => {
  const { users, check, events } = await setup(t)
  users.add({ id: 2, username: 'off', password: await hashOf('right'), isActive: false })
  const response = await check('off', 'wrong')
  t.equal(response.statusCode, 401)
  t.equal(events.at(-1)?.reason, 'wrong-password')
})

t.test('non-string or over-long credentials are refused before argon2 runs', async t => {
  const { users, check, events } = await setup(t, { maxPasswordLength: 16, maxUsernameLength: 8 })
  users.add({ id: 1, username: 'ann', password: await hashOf('hi') })
  const calls = spyOnVerify(t)
  const cases: Array<[string, unknown, unknown]> = [
    ['password as an array of char codes', 'ann', [104, 105]],
    ['password as an object', 'ann', { length: 1e8 }],
    ['password as a number', 'ann', 123],
    ['password null', 'ann', null],
    ['username as an array', ['ann'], 'hi'],
    ['empty password', 'ann', ''],
    ['empty username', '', 'hi'],
    ['password over the byte limit', 'ann', 'é'.repeat(9)],
    ['username over the byte limit', 'annannann', 'hi']
  ]
  for (const [name, username, password] of cases) {
    const response = await check(username, password)
    t.equal(response.statusCode, 401, name)
    t.equal(events.at(-1)?.reason, 'invalid-input', name)
    t.equal(events.at(-1)?.username, typeof username === 'string' ? username : null, `${name}: the username, if any`)
  }
  t.equal(calls.length, 0, 'argon2 never ran')
  t.equal(users.calls.findByUsername, 0, 'the store was never asked')
})

t.test('a password in another Unicode normal form matches (NFC)', async t => {
  const { app, users, check } = await setup(t)
  users.add({ id: 1, username: 'zoë', password: await app.hashPassword('caf\u00e9') })
  t.equal((await check('zoë', 'cafe\u0301')).statusCode, 200, 'NFD input matches an NFC hash')
  users.add({ id: 2, username: 'zed', password: await app.hashPassword('cafe\u0301') })
  t.equal((await check('zed', 'caf\u00e9')).statusCode, 200, 'NFC input matches a hash made from NFD')
})

t.test('an outdated hash is upgraded after a successful check', async t => {
  const { users, check } = await setup(t)
  const old = await argon2.hash('pw', { memoryCost: 512, timeCost: 1, parallelism: 1, type: argon2.argon2id })
  const argon2i = await argon2.hash('pw', { ...TEST_HASH_OPTIONS, type: argon2.argon2i })
  users.add({ id: 1, username: 'ann', password: old })
  users.add({ id: 2, username: 'bob', password: argon2i })
  t.equal((await check('ann', 'pw')).statusCode, 200)
  t.equal((await check('bob', 'pw')).statusCode, 200)
  t.equal(users.updates.length, 2)
  for (const { hash } of users.updates) {
    t.ok(hash.startsWith('$argon2id$'))
    t.equal(argon2.needsRehash(hash, TEST_HASH_OPTIONS), false)
    t.ok(await argon2.verify(hash, 'pw'))
  }
  t.equal((await check('ann', 'pw')).statusCode, 200, 'the new hash works')
  t.equal(users.updates.length, 2, 'a current hash is left alone')
})

t.test('a failing hash upgrade is logged and does not fail the login', async t => {
  const lines: string[] = []
  const users = new TestUsers()
  users.updatePasswordHash = async () => { throw new Error('read-only replica') }
  const { app } = await build(t, {
    users,
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } }
  })
  users.add({ id: 1, username: 'ann', password: await argon2.hash('pw', { memoryCost: 512, timeCost: 1, parallelism: 1 }) })
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  t.equal(response.statusCode, 200)
  t.match(lines.join(''), /could not store the upgraded password hash/)
  t.match(lines.join(''), /read-only replica/)
})

t.test('a user store that fails answers 503, never a user', async t => {
  const users = new TestUsers()
  users.findByUsername = async () => { throw new Error('database is down') }
  const { app } = await build(t, { users })
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'FST_AUTH_USER_STORE_ERROR')
})

t.test('a failing onLoginFailed listener is logged, and the answer is still the plain 401', async t => {
  const lines: string[] = []
  const { app } = await build(t, {
    plugin: { onLoginFailed: () => { throw new Error('listener broke') } },
    fastify: { logger: { level: 'error', stream: { write: (line: string) => { lines.push(line) } } } }
  })
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'FST_AUTH_AUTHENTICATION_FAILED')
  t.notMatch(response.body, /listener broke/)
  t.match(lines.join(''), /the onLoginFailed listener threw/)
})

t.test('AuthenticationError is the exported class with status 401', async t => {
  const error = new AuthenticationError()
  t.ok(error instanceof AuthenticationError)
  t.ok(error instanceof Error)
  t.equal(error.statusCode, 401)
  t.equal(error.code, 'FST_AUTH_AUTHENTICATION_FAILED')
  t.equal(error.name, 'AuthenticationError')
  t.equal(error.message, 'Invalid username or password')
  t.equal(new AuthenticationError('custom').message, 'custom')
})
