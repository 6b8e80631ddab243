import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { DEMO_CREDENTIALS, memoryRevocations } from '../examples/demo/app.js'
import { cookieFrom } from './helper'
import { demo, signIn } from './demo-helper'

// The demo's JSON API on the JWT backend, through app.inject.

const EXPECTED_USER = { id: 1, username: DEMO_CREDENTIALS.username, name: 'Demo User' }

function requestToken (app: FastifyInstance, body: Record<string, unknown> = DEMO_CREDENTIALS) {
  return app.inject({ method: 'POST', url: '/api/token', payload: body })
}

async function tokenFor (app: FastifyInstance): Promise<string> {
  const response = await requestToken(app)
  if (response.statusCode !== 200) throw new Error(`POST /api/token failed: ${response.statusCode}`)
  return response.json().token
}

function me (app: FastifyInstance, headers: Record<string, string> = {}) {
  return app.inject({ url: '/api/me', headers })
}

t.test('POST /api/token gives a token, and GET /api/me with it gives the user without the password hash', async t => {
  const app = await demo(t)
  const response = await requestToken(app)
  t.equal(response.statusCode, 200)
  const { token } = response.json()
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/)
  t.notOk(cookieFrom(response), 'the API sets no session cookie')

  const user = await me(app, { authorization: `Bearer ${token}` })
  t.equal(user.statusCode, 200)
  t.same(user.json(), { user: EXPECTED_USER })
  t.notMatch(user.body, /argon2|password/)
})

t.test('wrong or malformed credentials get no token', async t => {
  const app = await demo(t)
  const wrong = await requestToken(app, { username: DEMO_CREDENTIALS.username, password: 'wrong' })
  t.equal(wrong.statusCode, 401)
  t.equal(wrong.json().code, 'FST_AUTH_AUTHENTICATION_FAILED')
  t.notMatch(wrong.body, /token/)

  const unknown = await requestToken(app, { username: 'nobody@example.com', password: DEMO_CREDENTIALS.password })
  t.same(unknown.json(), wrong.json(), 'an unknown account answers exactly as a wrong password does')

  t.equal((await requestToken(app, { username: DEMO_CREDENTIALS.username })).statusCode, 400, 'no password')
  t.equal((await requestToken(app, { username: { a: 1 }, password: 'x' })).statusCode, 400, 'not a string')
})

t.test('GET /api/me answers 401 without a valid token, whatever else the request carries', async t => {
  const app = await demo(t)
  const token = await tokenFor(app)
  const [header, payload, signature] = token.split('.') as [string, string, string]
  const otherDemo = await demo(t)
  const cases: Array<[string, Record<string, string>]> = [
    ['no token', {}],
    ['a token with another signature', { authorization: `Bearer ${header}.${payload}.${signature.slice(0, -4)}AAAA` }],
    ['a token of another demo (another secret)', { authorization: `Bearer ${await tokenFor(otherDemo)}` }],
    ['a token with its payload swapped', {
      authorization: `Bearer ${header}.${Buffer.from('{"_auth_user_id":1}').toString('base64url')}.${signature}`
    }],
    ['garbage', { authorization: 'Bearer not-a-token' }]
  ]
  for (const [name, headers] of cases) {
    const response = await me(app, headers)
    t.equal(response.statusCode, 401, name)
    t.equal(response.headers['www-authenticate'], 'Bearer', name)
    t.notMatch(response.body, /demo@example\.com/, name)
  }

  const cookie = cookieFrom(await signIn(app, DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password))
  t.ok(cookie)
  t.equal((await me(app, { cookie: cookie as string })).statusCode, 401, 'the page\'s session cookie is no API credential')
})

t.test('POST /api/logout revokes the token: it no longer works, even though it has not expired', async t => {
  const app = await demo(t)
  const token = await tokenFor(app)
  const other = await tokenFor(app)
  const bearer = { authorization: `Bearer ${token}` }
  const logout = await app.inject({ method: 'POST', url: '/api/logout', headers: bearer })
  t.equal(logout.statusCode, 204)
  t.equal((await me(app, bearer)).statusCode, 401, 'the revoked token is refused')
  t.equal((await app.inject({ method: 'POST', url: '/api/logout', headers: bearer })).statusCode, 401)
  t.equal((await me(app, { authorization: `Bearer ${other}` })).statusCode, 200, 'another token of the user lives on')
  t.equal((await app.inject({ method: 'POST', url: '/api/logout' })).statusCode, 401, 'no token, nothing to log out')
})

t.test('the API shares the sign-in limits of the form', async t => {
  const app = await demo(t, { loginLimit: { perAccount: 2, perAddress: 100, timeWindow: 60_000 } })
  t.equal((await signIn(app, DEMO_CREDENTIALS.username, 'wrong')).statusCode, 401)
  t.equal((await requestToken(app, { username: DEMO_CREDENTIALS.username, password: 'wrong' })).statusCode, 401)
  const limited = await requestToken(app)
  t.equal(limited.statusCode, 429, 'the right password, past the account\'s budget')
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.match(limited.json(), { statusCode: 429, error: 'Too Many Requests', message: /for this account/ })
  t.notMatch(limited.body, /token/)
})

t.test('revocations are kept only until their tokens would have expired', async t => {
  let now = 100
  const revocations = memoryRevocations(() => now)
  revocations.revoke({ jti: 'a', exp: 150 })
  revocations.revoke({ jti: 'b', exp: 300 })
  t.ok(revocations.isRevoked({ jti: 'a', exp: 150 }))
  t.notOk(revocations.isRevoked({ jti: 'c', exp: 300 }))
  now = 200
  revocations.revoke({ jti: 'c', exp: 400 })
  t.equal(revocations.size, 2, 'a, expired, is forgotten')
  t.notOk(revocations.isRevoked({ jti: 'a', exp: 150 }))
  t.ok(revocations.isRevoked({ jti: 'b', exp: 300 }))
  t.ok(revocations.isRevoked({ jti: 'c', exp: 400 }))
})
