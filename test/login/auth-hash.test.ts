import t from 'tap'
import { createHmac } from 'node:crypto'
import { createAuthHasher, sameAuthHash } from '../../lib/login/auth-hash'
import { build, hashOf, loginAs } from '../helper'

t.test('the auth hash is an HMAC of the user id and password hash, stable across its cache filling up', async t => {
  const secret = 's'.repeat(32)
  const hasher = createAuthHasher(secret, (user) => (user as { password?: string }).password, (user) => (user as { id?: unknown }).id)
  const expected = (input: string) =>
    createHmac('sha256', secret).update('fastify-auth-helpers:auth-hash:').update(input).digest('base64url')
  const first = hasher({ id: 7, password: 'hash-0' })
  t.equal(first, expected('2:n7:hash-0'))
  for (let i = 1; i <= 10_001; i++) hasher({ id: 7, password: `hash-${i}` })
  t.equal(hasher({ id: 7, password: 'hash-0' }), first, 'the same after the cache was cleared')
  t.not(hasher({ id: 7, password: 'hash-1' }), first, 'a new password, a new auth hash')
  t.equal(hasher({ id: 'ab' }), expected('3:sab:'), 'no password hashes as the empty string')
  t.equal(hasher({}), expected('1:-:'), 'nor does a user without a usable id')
  t.not(hasher({ id: 1 }), hasher({ id: 2 }), 'two passwordless users differ by their ids')
  t.not(hasher({ id: 1 }), hasher({ id: '1' }), 'the id\'s type counts')
  t.not(hasher({ id: 'a:', password: 'b' }), hasher({ id: 'a', password: ':b' }), 'the id cannot run into the hash')
})

const SECRET = 'a-test-secret-that-is-32-chars-long!!'

t.test('sameAuthHash accepts only the very same hash', async t => {
  const authHash = createAuthHasher(SECRET, user => (user as { password: string }).password, user => (user as { id?: unknown }).id)
  const expected = authHash({ password: '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2g' })
  t.equal(expected.length, 43, 'an auth hash is 43 base64url characters')
  t.ok(sameAuthHash(expected, expected))
  t.ok(sameAuthHash(String(expected), expected), 'a copy read back from a store matches')
  // Every position counts: a compare that stopped early or skipped a character would let one of these through.
  for (let i = 0; i < expected.length; i++) {
    const flipped = expected.slice(0, i) + (expected[i] === 'A' ? 'B' : 'A') + expected.slice(i + 1)
    t.notOk(sameAuthHash(flipped, expected), `a difference at position ${i}`)
  }
  t.notOk(sameAuthHash(expected.slice(1), expected), 'shorter')
  t.notOk(sameAuthHash(expected + 'A', expected), 'longer')
  t.notOk(sameAuthHash('', expected))
  for (const notAString of [undefined, null, 42, [expected], { toString: () => expected }, Buffer.from(expected)]) {
    t.notOk(sameAuthHash(notAString, expected), `not a string: ${typeof notAString}`)
  }
  t.not(authHash({ password: 'another hash' }), expected, 'another password hash gives another auth hash')
})

t.test('a login made before a password change stops authenticating', async t => {
  const { app, users } = await build(t)
  const bob = users.add({ id: 1, username: 'bob', password: await hashOf('old password') })
  const cookie = await loginAs(app, 'bob', 'old password')
  t.equal((await app.inject({ url: '/whoami', headers: { cookie } })).json().user?.id, 1)
  bob.password = await hashOf('new password')
  const after = await app.inject({ url: '/whoami', headers: { cookie } })
  t.equal(after.json().user, null)
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
})

t.test('users who share a password hash (none, say) get auth hashes of their own, by id and by id type', async t => {
  const authHash = createAuthHasher(SECRET, user => (user as { password?: string }).password, user => (user as { id?: unknown }).id)
  const first = [authHash({ id: 1, password: '' }), authHash({ id: 2, password: '' }), authHash({ id: '1', password: '' })]
  t.equal(new Set(first).size, 3)
  // Asked again, from the cache, in another order: the same answers.
  t.same([authHash({ id: '1', password: '' }), authHash({ id: 2, password: '' }), authHash({ id: 1, password: '' })], [...first].reverse())
})

t.test('a login ended because the stored password hash changed says so in the log, at info', async t => {
  const logged: Array<{ level: number, msg?: string, userId?: unknown }> = []
  const { app, users } = await build(t, {
    fastify: { logger: { level: 'info', stream: { write: (line: string) => logged.push(JSON.parse(line)) } } }
  })
  const bob = users.add({ id: 1, username: 'bob', password: await hashOf('old password') })
  const cookie = await loginAs(app, 'bob', 'old password')
  // Another instance that hashed its own copy of bob's password: the same password, another hash.
  bob.password = await hashOf('old password')
  t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401)
  const ended = logged.filter(line => /a login was ended/.test(line.msg ?? ''))
  t.equal(ended.length, 1)
  t.equal(ended[0]?.level, 30, 'at info')
  t.equal(ended[0]?.userId, 1)
  t.match(ended[0]?.msg, /password hash has changed/)
  t.match(ended[0]?.msg, /authHashSecret/, 'and the setup mistake that looks the same')
})
