import t from 'tap'
import argon2 = require('argon2')
import { TEST_HASH_OPTIONS, TestUsers, type TestUser } from '../helper'
import { spyOnVerify } from '../helper'
import { BACKENDS, buildPasswords, signIn, whoIs } from './helper'
import { bearer } from '../jwt/helper'

// request.changePassword, app.setPassword, app.resetPassword, the new-password rules: each on both backends.

const OLD = 'old password'
const NEW = 'a brand new password'

const other = (backend: 'session' | 'jwt'): 'session' | 'jwt' => backend === 'jwt' ? 'session' : 'jwt'

for (const backend of BACKENDS) {
  t.test(`changePassword keeps this login, renewed, and ends every other login of the user (${backend})`, async t => {
    const { app, users, bob } = await buildPasswords(t)
    const here = await signIn(app, backend, 'ann', OLD)
    const sameBackend = await signIn(app, backend, 'ann', OLD)
    const otherBackend = await signIn(app, other(backend), 'ann', OLD)
    const bobs = await signIn(app, backend, 'bob', 'bobs password')

    const response = await app.inject({ method: 'POST', url: '/password', headers: here, payload: { current: OLD, next: NEW } })
    t.equal(response.statusCode, 200)
    let renewed: Record<string, string>
    if (backend === 'jwt') {
      const { token } = response.json()
      t.type(token, 'string', 'the JWT backend answers with a new token')
      t.not(bearer(token).authorization, here.authorization)
      renewed = bearer(token)
    } else {
      t.equal(response.json().token, null)
      t.equal(response.json().id, 1, 'the request is still logged in')
      const cookie = response.cookies.find(c => c.name === 'sessionId')
      t.ok(cookie?.value, 'under a new session id')
      renewed = { cookie: `sessionId=${cookie?.value as string}` }
      t.not(renewed.cookie, here.cookie)
    }
    t.equal(await whoIs(app, renewed), 1, 'the renewed login works')
    t.equal(await whoIs(app, here), null, 'the credential the request came with is dead')
    t.equal(await whoIs(app, sameBackend), null, 'another login on the same backend is ended')
    t.equal(await whoIs(app, otherBackend), null, 'and one on the other backend')
    t.equal(await whoIs(app, bobs), 2, "another user's login is untouched")
    t.equal(users.updates.length, 1)
    const hashed = users.updates[0]?.hash ?? ''
    t.match(hashed, /^\$argon2id\$v=19\$/, 'an argon2id hash')
    for (const [name, value] of [['m', TEST_HASH_OPTIONS.memoryCost], ['t', TEST_HASH_OPTIONS.timeCost], ['p', TEST_HASH_OPTIONS.parallelism]]) {
      t.match(hashed, new RegExp(`[$,]${name}=${value}[,$]`), `hashed with the plugin's ${name}=${value}`)
    }
    t.equal(bob.password === users.updates[0]?.hash, false)

    t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: OLD } })).statusCode, 401, 'the old password is refused')
    t.equal(await whoIs(app, await signIn(app, backend, 'ann', NEW)), 1, 'the new one logs in')
  })

  t.test(`a wrong current password is one 401 after one argon2 verify, and changes nothing (${backend})`, async t => {
    const { app, users } = await buildPasswords(t)
    const here = await signIn(app, backend, 'ann', OLD)
    const elsewhere = await signIn(app, backend, 'ann', OLD)
    const verifies = spyOnVerify(t)
    const bodies = new Set<string>()
    const attempts: Array<[string, unknown, number]> = [
      ['a wrong password', 'wrong', 1],
      ['the new password', NEW, 1],
      ['an empty one', '', 0],
      ['a number', 12345, 0],
      ['an array', [OLD], 0],
      ['an oversized one', 'x'.repeat(4097), 0],
      ['a lone surrogate', 'old\uD800', 0]
    ]
    for (const [what, current, argon2Calls] of attempts) {
      const before = verifies.length
      const response = await app.inject({ method: 'POST', url: '/password', headers: here, payload: { current, next: NEW } })
      t.equal(response.statusCode, 401, what)
      t.equal(response.json().code, 'FST_AUTH_AUTHENTICATION_FAILED', what)
      t.equal(verifies.length - before, argon2Calls, `${what}: ${argon2Calls} argon2 verify, as authenticate does`)
      bodies.add(response.body)
      t.notOk(response.headers['set-cookie'], `${what}: no new session`)
    }
    t.equal(bodies.size, 1, 'one answer for every way of getting it wrong')
    t.equal(users.calls.updatePasswordHash, 0, 'nothing was stored')
    t.equal(await whoIs(app, here), 1, 'the login stands')
    t.equal(await whoIs(app, elsewhere), 1, 'and so does the other')
  })

  t.test(`a user without a usable hash is refused after the one dummy verify (${backend})`, async t => {
    const { app, ann } = await buildPasswords(t)
    ann.password = undefined
    // Logged in without a password (a magic link, say): login-id on the session backend, /token-id on the JWT one.
    const response = await app.inject({ method: 'POST', url: backend === 'jwt' ? '/token-id' : '/login-id', payload: { userId: 1 } })
    const here = backend === 'jwt' ? bearer(response.json().token) : { cookie: `sessionId=${response.cookies.find(c => c.name === 'sessionId')?.value as string}` }
    t.equal(await whoIs(app, here), 1)
    const verifies = spyOnVerify(t)
    const change = await app.inject({ method: 'POST', url: '/password', headers: here, payload: { current: 'anything', next: NEW } })
    t.equal(change.statusCode, 401)
    t.equal(change.json().code, 'FST_AUTH_AUTHENTICATION_FAILED')
    t.equal(verifies.length, 1, 'one verify, against the dummy hash')
    t.equal(ann.password, undefined, 'nothing stored: setPassword is how a passwordless user gets one')
  })

  t.test(`setPassword stores the new hash and ends every login of the user (${backend})`, async t => {
    const { app, ann } = await buildPasswords(t)
    const sessions = [await signIn(app, backend, 'ann', OLD), await signIn(app, other(backend), 'ann', OLD)]
    const bobs = await signIn(app, backend, 'bob', 'bobs password')
    t.equal(await app.setPassword(ann as never, NEW), undefined)
    for (const headers of sessions) t.equal(await whoIs(app, headers), null, 'ended')
    t.equal(await whoIs(app, bobs), 2)
    t.equal(await whoIs(app, await signIn(app, backend, 'ann', NEW)), 1)
  })

  t.test(`resetPassword takes a password-reset token once, and ends every login (${backend})`, async t => {
    const { app, ann } = await buildPasswords(t)
    const before = await signIn(app, backend, 'ann', OLD)
    const token = app.createUserToken(ann as never, { purpose: 'password-reset' })
    const reset = await app.inject({ method: 'POST', url: '/reset', payload: { token, password: NEW } })
    t.same(reset.json(), { id: 1 })
    t.equal(await whoIs(app, before), null, 'the login made before the reset is ended')
    const replay = await app.inject({ method: 'POST', url: '/reset', payload: { token, password: 'the attacker chose this' } })
    t.equal(replay.statusCode, 400)
    t.equal(replay.json().code, 'FST_AUTH_INVALID_TOKEN', 'the token is dead once used: the hash it was bound to is gone')
    t.equal(await whoIs(app, await signIn(app, backend, 'ann', NEW)), 1, 'the reset password logs in')
    t.equal((await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: OLD } })).statusCode, 401)
  })
}

t.test('a token made before a password change is dead, whoever changed it', async t => {
  const { app, ann } = await buildPasswords(t)
  const reset = app.createUserToken(ann as never, { purpose: 'password-reset' })
  const verify = app.createUserToken(ann as never, { purpose: 'verify-email' })
  const here = await signIn(app, 'session', 'ann', OLD)
  t.equal((await app.inject({ method: 'POST', url: '/password', headers: here, payload: { current: OLD, next: NEW } })).statusCode, 200)
  for (const [token, purpose] of [[reset, 'password-reset'], [verify, 'verify-email']]) {
    const response = await app.inject({ method: 'POST', url: '/verify', payload: { token, purpose } })
    t.equal(response.statusCode, 400, purpose)
  }
  t.equal((await app.inject({ method: 'POST', url: '/reset', payload: { token: reset, password: 'x' } })).statusCode, 400)
})

t.test('resetPassword needs a token made for password-reset', async t => {
  const { app, ann, users } = await buildPasswords(t)
  const token = app.createUserToken(ann as never, { purpose: 'verify-email' })
  const response = await app.inject({ method: 'POST', url: '/reset', payload: { token, password: NEW } })
  t.equal(response.statusCode, 400)
  t.equal(response.json().code, 'FST_AUTH_INVALID_TOKEN')
  t.equal(users.calls.updatePasswordHash, 0)
})

t.test('the same reset token used twice at once on one instance resets once', async t => {
  const { app, ann, users } = await buildPasswords(t)
  const token = app.createUserToken(ann as never, { purpose: 'password-reset' })
  const [first, second] = await Promise.all([
    app.inject({ method: 'POST', url: '/reset', payload: { token, password: 'first' } }),
    app.inject({ method: 'POST', url: '/reset', payload: { token, password: 'second' } })
  ])
  t.same([first.statusCode, second.statusCode].sort(), [200, 400])
  t.equal(users.calls.updatePasswordHash, 1)
  // Malformed tokens at once do not wait on each other, and each gets its 400.
  const junk = await Promise.all([1, 2].map(() => app.inject({ method: 'POST', url: '/reset', payload: { token: 'junk', password: 'x' } })))
  t.same(junk.map(r => r.statusCode), [400, 400])
})

t.test('a refused new password changes nothing, and the reset token stays usable', async t => {
  const { app, ann, users } = await buildPasswords(t, {
    passwordPolicy: (password: string, { user }: { user: TestUser | null }) =>
      password.length < 12 ? 'Use at least 12 characters' : password.includes(user?.username as string) ? 'Do not use your username' : undefined
  })
  const here = await signIn(app, 'session', 'ann', OLD)
  const token = app.createUserToken(ann as never, { purpose: 'password-reset' })
  const cases: Array<[unknown, string]> = [
    ['short', 'Use at least 12 characters'],
    ['ann is my name, ann', 'Do not use your username'],
    ['', 'The new password must not be empty'],
    [12345678901234, 'The new password must not be empty'],
    [['a long enough password'], 'The new password must not be empty'],
    ['x'.repeat(4097), 'The new password must be at most 4096 bytes long'],
    ['long enough \uDC00 password', 'The new password contains an invalid character']
  ]
  for (const [next, message] of cases) {
    for (const [url, headers, payload] of [
      ['/password', here, { current: OLD, next }],
      ['/reset', {}, { token, password: next }]
    ] as const) {
      const response = await app.inject({ method: 'POST', url, headers, payload })
      t.equal(response.statusCode, 400, `${url}: ${message}`)
      t.same(response.json(), { statusCode: 400, code: 'FST_AUTH_INVALID_PASSWORD', error: 'Bad Request', message })
    }
    await t.rejects(app.setPassword(ann as never, next as string), { code: 'FST_AUTH_INVALID_PASSWORD', message })
  }
  t.equal(users.calls.updatePasswordHash, 0, 'nothing was stored')
  t.equal(await whoIs(app, here), 1, 'the login stands')
  t.same((await app.inject({ method: 'POST', url: '/reset', payload: { token, password: 'a long enough password' } })).json(), { id: 1 },
    'and the reset link still works for a password the policy accepts')
})

t.test('passwordPolicy: a falsy refusal gets a generic message, a throw is its own error, a promise is awaited', async t => {
  const seen: unknown[] = []
  const { app, ann } = await buildPasswords(t, {
    passwordPolicy: async (password: string, context: { user: unknown }) => {
      seen.push(context.user)
      if (password === 'refused') return false
      if (password === 'empty reason') return ''
      if (password === 'accepted') return true
      if (password === 'breach check down') throw Object.assign(new Error('breach API down'), { statusCode: 503 })
      return undefined
    }
  })
  await t.rejects(app.checkNewPassword('refused'), { statusCode: 400, message: 'The new password is not allowed' })
  await t.rejects(app.checkNewPassword('empty reason', ann as never), { message: 'The new password is not allowed' })
  t.equal(await app.checkNewPassword('accepted'), undefined)
  t.equal(await app.checkNewPassword('fine', null), undefined)
  await t.rejects(app.setPassword(ann as never, 'breach check down'), { message: 'breach API down', statusCode: 503 })
  t.same(seen, [null, ann, null, null, ann], 'the policy sees the user, or null at sign-up')
  await t.rejects(buildPasswords(t, { passwordPolicy: 'min 12' }), { code: 'FST_AUTH_INVALID_OPTION', message: /`passwordPolicy` must be a function/ })
})

t.test('without users.updatePasswordHash there is nowhere to store a password: a 500 that says so', async t => {
  const users = new TestUsers()
  const store = { findByUsername: users.findByUsername, findById: users.findById }
  const { app, ann } = await buildPasswords(t, { users: store }, users)
  const here = await signIn(app, 'session', 'ann', OLD)
  const response = await app.inject({ method: 'POST', url: '/password', headers: here, payload: { current: OLD, next: NEW } })
  t.equal(response.statusCode, 500)
  t.equal(response.json().code, 'FST_AUTH_INVALID_ARGUMENT')
  await t.rejects(app.setPassword(ann as never, NEW), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /users.updatePasswordHash/ })
})

t.test('a failing updatePasswordHash is a 503 without its message, and the login stands', async t => {
  const users = new TestUsers()
  users.updatePasswordHash = async () => { throw new Error('db at 10.0.0.5 is down') }
  const { app } = await buildPasswords(t, {}, users)
  const here = await signIn(app, 'session', 'ann', OLD)
  const response = await app.inject({ method: 'POST', url: '/password', headers: here, payload: { current: OLD, next: NEW } })
  t.equal(response.statusCode, 503)
  t.equal(response.json().code, 'FST_AUTH_USER_STORE_ERROR')
  t.notMatch(response.body, /10\.0\.0\.5/)
  t.equal(await whoIs(app, here), 1)
})

t.test('changePassword on an anonymous request is 401 FST_AUTH_UNAUTHORIZED', async t => {
  const { app, users } = await buildPasswords(t)
  const response = await app.inject({ method: 'POST', url: '/password', payload: { current: OLD, next: NEW } })
  t.equal(response.statusCode, 401)
  t.equal(response.json().code, 'FST_AUTH_UNAUTHORIZED')
  t.equal(users.calls.updatePasswordHash, 0)
})

t.test('setPassword takes a user with a valid id', async t => {
  const { app } = await buildPasswords(t)
  for (const user of [null, 'ann', { username: 'no id' }]) {
    await t.rejects(app.setPassword(user as never, NEW), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /setPassword\(\) takes a user/ })
  }
})

t.test('a reset racing a login: the login that checked the old password does not outlive the reset', async t => {
  const { app, ann } = await buildPasswords(t)
  const oldHash = ann.password as string
  let release!: () => void
  let arrived!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  const arrival = new Promise<void>(resolve => { arrived = resolve })
  const original = argon2.verify
  // The login's verify of the old hash is held until the reset has stored the new hash on the same user object.
  argon2.verify = async (digest, password, options) => {
    if (digest === oldHash) {
      arrived()
      await held
    }
    return original(digest, password, options)
  }
  t.teardown(() => { argon2.verify = original })
  const login = app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: OLD } })
  await arrival
  await app.resetPassword(app.createUserToken(ann as never, { purpose: 'password-reset' }), NEW)
  t.not(ann.password, oldHash, 'the reset stored the new hash on the object the login holds')
  release()
  const response = await login
  t.equal(response.statusCode, 200, 'the password was right when it was checked')
  const cookie = `sessionId=${response.cookies.find(c => c.name === 'sessionId')?.value as string}`
  t.equal(await whoIs(app, { cookie }), null, 'but the login it made is ended by the reset on its first request')
})

t.test('with jwt.cookie, changePassword sends the renewed token as the cookie too', async t => {
  const { app } = await buildPasswords(t, { jwt: { secret: 'a-jwt-secret-for-tests-that-is-long-enough', cookie: { name: 'token', secure: false } } })
  const login = await app.inject({ method: 'POST', url: '/token', payload: { username: 'ann', password: OLD } })
  const cookie = `token=${login.cookies.find(c => c.name === 'token')?.value as string}`
  t.equal(await whoIs(app, { cookie }), 1)
  const change = await app.inject({ method: 'POST', url: '/password', headers: { cookie }, payload: { current: OLD, next: NEW } })
  t.equal(change.statusCode, 200)
  const renewed = change.cookies.find(c => c.name === 'token')?.value
  t.equal(renewed, change.json().token, 'the cookie holds the new token')
  t.equal(await whoIs(app, { cookie: `token=${renewed as string}` }), 1)
  t.equal(await whoIs(app, { cookie }), null, 'the old token cookie is dead')
})
