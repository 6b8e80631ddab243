import t from 'tap'
import fc from 'fast-check'
import crypto = require('node:crypto')
import { TestUsers, hashOf, type TestUser } from '../helper'
import { buildPasswords } from './helper'

// app.createUserToken / app.verifyUserToken: signed links that say nothing and forgive nothing.

const PURPOSE = 'password-reset'
const TOKEN_SECRET = 'a-user-token-secret-of-at-least-32-chars'
const INVALID = { statusCode: 400, code: 'FST_AUTH_INVALID_TOKEN', error: 'Bad Request', message: 'This link is invalid or has expired' }

const sleep = (ms: number): Promise<void> => new Promise(resolve => setTimeout(resolve, ms))

/** Counts the token MACs computed (HMACs over the token label), by wrapping crypto.createHmac for the test. */
function countMacs (t: { teardown: (fn: () => void) => void }): { count: number } {
  const counter = { count: 0 }
  const original = crypto.createHmac
  crypto.createHmac = ((...args: Parameters<typeof original>) => {
    const hmac = original(...args)
    const update = hmac.update.bind(hmac)
    hmac.update = ((data: unknown, ...rest: unknown[]) => {
      if (typeof data === 'string' && data.startsWith('fastify-auth-helpers:user-token:v1:')) counter.count++
      return (update as (...a: unknown[]) => crypto.Hmac)(data, ...rest)
    }) as typeof hmac.update
    return hmac
  }) as typeof original
  t.teardown(() => { crypto.createHmac = original })
  return counter
}

t.test('a token is short, URL-safe, and verifies for its own purpose to the user looked up again', async t => {
  const { app, users, ann } = await buildPasswords(t)
  const token = app.createUserToken(ann as never, { purpose: PURPOSE, maxAge: 60_000 })
  t.match(token, /^[A-Za-z0-9_-]+\.[0-9a-z]+\.[A-Za-z0-9_-]{43}$/)
  t.equal(encodeURIComponent(token), token, 'it goes into a link as it is')
  t.ok(token.length <= 64, `${token.length} characters`)
  const before = users.calls.findById
  const user = await app.verifyUserToken(token, { purpose: PURPOSE })
  t.equal(user, ann as never)
  t.equal(users.calls.findById, before + 1, 'the user is looked up again')
  t.same((await app.inject({ method: 'POST', url: '/verify', payload: { token, purpose: PURPOSE } })).json(), { id: 1 })
  // The default lifetime is an hour.
  const hour = app.createUserToken(ann as never, { purpose: PURPOSE })
  const expires = parseInt(hour.split('.')[1] as string, 36)
  t.ok(Math.abs(expires - (Date.now() + 3_600_000)) < 5_000, 'one hour by default')
})

t.test('every reason a token fails gets the same 400, body and headers, after the same lookup', async t => {
  const users = new TestUsers()
  const { app, ann, bob } = await buildPasswords(t, {}, users)
  const other = await buildPasswords(t, { userTokens: { secret: TOKEN_SECRET } })
  const carol = users.add({ id: 3, username: 'carol', password: await hashOf('carols password') })
  const dave = users.add({ id: 4, username: 'dave', password: await hashOf('daves password') })
  const erin = users.add({ id: 5, username: 'erin', password: await hashOf('erins password') })

  const good = app.createUserToken(ann as never, { purpose: PURPOSE })
  const [id, expiry, mac] = good.split('.') as [string, string, string]
  const short = app.createUserToken(bob as never, { purpose: PURPOSE, maxAge: 1 })
  const otherPurpose = app.createUserToken(ann as never, { purpose: 'verify-email' })
  const otherKey = other.app.createUserToken(other.ann as never, { purpose: PURPOSE })
  const gone = app.createUserToken(carol as never, { purpose: PURPOSE })
  users.byId.delete(3)
  const inactive = app.createUserToken(dave as never, { purpose: PURPOSE })
  dave.isActive = false
  const changed = app.createUserToken(erin as never, { purpose: PURPOSE })
  erin.password = await hashOf('erins new password')
  // Bob's id with Ann's expiry and MAC; Ann's MAC with a later expiry.
  const bobsId = `${Buffer.from('n2').toString('base64url')}.${expiry}.${mac}`
  const later = `${id}.${(parseInt(expiry, 36) + 1).toString(36)}.${mac}`
  await sleep(5)

  const shaped: Record<string, string> = {
    forged: `${id}.${expiry}.${'A'.repeat(43)}`,
    expired: short,
    'another purpose': otherPurpose,
    'another key': otherKey,
    'a user gone': gone,
    'an inactive user': inactive,
    'a password changed since': changed,
    "another user's id": bobsId,
    'a later expiry': later
  }
  const malformed: Record<string, unknown> = {
    truncated: good.slice(0, -1),
    extended: `${good}A`,
    empty: '',
    'a number': 12345,
    'an array': [good],
    'an object': { token: good },
    null: null,
    huge: `${id}.${expiry}.${'A'.repeat(100_000)}`,
    'a non-canonical id': `${id.slice(0, -1)}${String.fromCharCode(id.charCodeAt(id.length - 1) + 1)}.${expiry}.${mac}`
  }
  const bodies = new Set<string>()
  const headerSets = new Set<string>()
  const macs = countMacs(t)
  for (const [reason, token] of Object.entries({ ...shaped, ...malformed })) {
    const lookups = users.calls.findById
    const macsBefore = macs.count
    const response = await app.inject({ method: 'POST', url: '/verify', payload: { token, purpose: PURPOSE } })
    t.equal(response.statusCode, 400, reason)
    t.same(response.json(), INVALID, reason)
    bodies.add(response.body)
    const { date: _date, ...headers } = response.headers
    headerSets.add(JSON.stringify(headers))
    t.equal(users.calls.findById - lookups, reason in shaped ? 1 : 0,
      reason in shaped ? `${reason}: the user is looked up all the same` : `${reason}: refused on its shape alone`)
    t.equal(macs.count - macsBefore, reason in shaped ? 1 : 0, `${reason}: ${reason in shaped ? 'one MAC computed and compared' : 'no MAC'}`)
    await t.rejects(app.verifyUserToken(token as string, { purpose: PURPOSE }), { code: 'FST_AUTH_INVALID_TOKEN', statusCode: 400 })
  }
  t.equal(bodies.size, 1, 'one body for every reason')
  t.equal(headerSets.size, 1, 'and the same headers')
  t.same((await app.inject({ method: 'POST', url: '/verify', payload: { token: good, purpose: PURPOSE } })).json(), { id: 1 },
    'while the good token still works')
})

t.test('changing any character of a token, or adding or removing one, makes it invalid (fast-check)', async t => {
  const { app, ann, users } = await buildPasswords(t)
  users.add({ id: 10, username: 'ten', password: await hashOf('x') })
  users.add({ id: 11, username: 'eleven', password: await hashOf('x') })
  const token = app.createUserToken(ann as never, { purpose: PURPOSE })
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_.=+/ %\u00e9'
  const char = fc.constantFrom(...alphabet)
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('replace' as const), at: fc.nat({ max: token.length - 1 }), char }),
    fc.record({ kind: fc.constant('insert' as const), at: fc.nat({ max: token.length }), char }),
    fc.record({ kind: fc.constant('delete' as const), at: fc.nat({ max: token.length - 1 }), char })
  )
  await fc.assert(fc.asyncProperty(fc.array(edit, { minLength: 1, maxLength: 3 }), async edits => {
    let tampered = token
    for (const { kind, at, char } of edits) {
      const i = Math.min(at, tampered.length - (kind === 'insert' ? 0 : 1))
      tampered = kind === 'replace'
        ? tampered.slice(0, i) + char + tampered.slice(i + 1)
        : kind === 'insert' ? tampered.slice(0, i) + char + tampered.slice(i) : tampered.slice(0, i) + tampered.slice(i + 1)
    }
    fc.pre(tampered !== token)
    await app.verifyUserToken(tampered, { purpose: PURPOSE }).then(
      () => { throw new Error(`tampered token verified: ${tampered}`) },
      (err: { code?: string }) => { if (err.code !== 'FST_AUTH_INVALID_TOKEN') throw err })
  }), { numRuns: 300 })
  // And every single position, exhaustively, with a character that decodes differently.
  for (let i = 0; i < token.length; i++) {
    const replacement = token[i] === 'A' ? 'B' : 'A'
    await t.rejects(app.verifyUserToken(token.slice(0, i) + replacement + token.slice(i + 1), { purpose: PURPOSE }),
      { code: 'FST_AUTH_INVALID_TOKEN' }, `position ${i}`)
  }
})

t.test('a token for a user whose id a new account reuses does not work for the new account', async t => {
  const { app, users, ann } = await buildPasswords(t)
  const token = app.createUserToken(ann as never, { purpose: PURPOSE })
  users.byId.delete(1)
  users.add({ id: 1, username: 'newcomer', password: await hashOf('old password') })
  await t.rejects(app.verifyUserToken(token, { purpose: PURPOSE }), { code: 'FST_AUTH_INVALID_TOKEN' },
    'even with the same password: the new hash has a salt of its own')
})

t.test('a token names its id typed: a store that answers for the string "1" with user 1 is not handed the token', async t => {
  const users = new TestUsers()
  const { app } = await buildPasswords(t, { getUserId: (user: TestUser) => typeof user.id === 'number' && user.id > 100 ? String(user.id - 100) : user.id }, users)
  const stringy = users.add({ id: 101, username: 'stringy', password: await hashOf('x') })
  // stringy's id is "1"; TestUsers.findById("1") answers with ann (id 1), whose own id is the number 1.
  const token = app.createUserToken(stringy as never, { purpose: PURPOSE })
  t.match(Buffer.from(token.split('.')[0] as string, 'base64url').toString(), /^s1$/)
  await t.rejects(app.verifyUserToken(token, { purpose: PURPOSE }), { code: 'FST_AUTH_INVALID_TOKEN' })
  const numeric = app.createUserToken(users.byId.get(2) as never, { purpose: PURPOSE })
  t.same(await app.verifyUserToken(numeric, { purpose: PURPOSE }), users.byId.get(2))
})

t.test('userTokens.secret signs and previousSecrets still verify, so the key can be rotated', async t => {
  const OLD = 'the-old-user-token-secret-32-characters!'
  const users = new TestUsers()
  const before = await buildPasswords(t, { userTokens: { secret: OLD } }, users)
  const derived = await buildPasswords(t, {}, users)
  const oldToken = before.app.createUserToken(before.ann as never, { purpose: PURPOSE })
  const derivedToken = derived.app.createUserToken(derived.ann as never, { purpose: PURPOSE })
  t.not(oldToken, derivedToken, 'the default key is not the explicit one')

  const during = await buildPasswords(t, { userTokens: { secret: TOKEN_SECRET, previousSecrets: [Buffer.from(OLD)] } }, users)
  t.same(await during.app.verifyUserToken(oldToken, { purpose: PURPOSE }), users.byId.get(1), 'a token of the old key still verifies')
  const newToken = during.app.createUserToken(during.ann as never, { purpose: PURPOSE })
  const macs = countMacs(t)
  t.same(await during.app.verifyUserToken(newToken, { purpose: PURPOSE }), users.byId.get(1))
  t.equal(macs.count, 2, 'every key is tried, also when the first one matches: the key a token was made with does not show')
  const after = await buildPasswords(t, { userTokens: { secret: TOKEN_SECRET } }, users)
  t.same(await after.app.verifyUserToken(newToken, { purpose: PURPOSE }), users.byId.get(1), 'new tokens are signed with the new key')
  await t.rejects(after.app.verifyUserToken(oldToken, { purpose: PURPOSE }), { code: 'FST_AUTH_INVALID_TOKEN' },
    'once the old key is dropped, its tokens are dead')
  await t.rejects(during.app.verifyUserToken(derivedToken, { purpose: PURPOSE }), { code: 'FST_AUTH_INVALID_TOKEN' })

  // Two instances with the same auth hash key and no userTokens derive the same key: they share tokens.
  const twin = await buildPasswords(t, {}, users)
  t.same(await twin.app.verifyUserToken(derivedToken, { purpose: PURPOSE }), users.byId.get(1))
})

t.test('bad userTokens options fail at registration', async t => {
  const cases: Array<[unknown, RegExp]> = [
    [null, /`userTokens` must be an object/],
    ['x'.repeat(40), /`userTokens` must be an object/],
    [[TOKEN_SECRET], /`userTokens` must be an object/],
    [{}, /`userTokens.secret` must be a string or Buffer of at least 32/],
    [{ secret: 'short' }, /`userTokens.secret`/],
    [{ secret: TOKEN_SECRET, previousSecrets: 'x'.repeat(40) }, /`userTokens.previousSecrets` must be an array/],
    [{ secret: TOKEN_SECRET, previousSecrets: ['short'] }, /`userTokens.previousSecrets`/],
    [{ secret: TOKEN_SECRET, maxAge: 5 }, /`userTokens.maxAge` is not an option/]
  ]
  for (const [userTokens, message] of cases) {
    await t.rejects(buildPasswords(t, { userTokens }), { code: 'FST_AUTH_INVALID_OPTION', message }, JSON.stringify(userTokens))
  }
})

t.test("a programmer's misuse of createUserToken and verifyUserToken throws FST_AUTH_INVALID_ARGUMENT", async t => {
  const { app, ann } = await buildPasswords(t)
  const token = app.createUserToken(ann as never, { purpose: PURPOSE })
  for (const purpose of [undefined, '', 5, 'x'.repeat(101)]) {
    t.throws(() => app.createUserToken(ann as never, { purpose } as never), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /purpose/ })
    await t.rejects(app.verifyUserToken(token, { purpose } as never), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /purpose/ })
  }
  t.throws(() => app.createUserToken(ann as never, undefined as never), { code: 'FST_AUTH_INVALID_ARGUMENT' })
  await t.rejects(app.verifyUserToken(token, undefined as never), { code: 'FST_AUTH_INVALID_ARGUMENT' })
  for (const user of [null, 'ann', { username: 'no id' }, { id: '' }]) {
    t.throws(() => app.createUserToken(user as never, { purpose: PURPOSE }), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /user/ })
  }
  for (const maxAge of [0, -1, 1.5, '60000', Number.POSITIVE_INFINITY]) {
    t.throws(() => app.createUserToken(ann as never, { purpose: PURPOSE, maxAge } as never), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /maxAge/ })
  }
})

t.test('a failing user store is a 503 without its message, never a verified token', async t => {
  const { app, users, ann } = await buildPasswords(t)
  const token = app.createUserToken(ann as never, { purpose: PURPOSE })
  users.failFindById = true
  const response = await app.inject({ method: 'POST', url: '/verify', payload: { token, purpose: PURPOSE } })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'FST_AUTH_USER_STORE_ERROR')
  t.notMatch(response.body, /user store is down/)
})

t.test('ids of every shape round-trip: strings with any character, negative numbers', async t => {
  const byId = new Map<unknown, { id: unknown, password: string }>()
  const users = {
    findByUsername: async () => undefined,
    findById: async (id: unknown) => byId.get(id)
  }
  const { app } = await buildPasswords(t, { users })
  for (const id of ['a', 'ünïcødé ✓', 'with.dots-and_dashes', 'x'.repeat(512), -5, 0, Number.MAX_SAFE_INTEGER]) {
    const user = { id, password: await hashOf('x') }
    byId.set(id, user)
    const token = app.createUserToken(user as never, { purpose: PURPOSE })
    t.equal(await app.verifyUserToken(token, { purpose: PURPOSE }), user as never, JSON.stringify(id))
  }
})
