import t from 'tap'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { DEMO_CREDENTIALS, memoryRevocations } from '../../examples/demo/app.js'
import { cookieFrom } from '../helper'
import { demo, signIn } from './helper'

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

t.test('credentials are not coerced: an array or a number is refused, not turned into a string', async t => {
  const app = await demo(t)
  for (const body of [
    { username: [DEMO_CREDENTIALS.username], password: DEMO_CREDENTIALS.password },
    { username: DEMO_CREDENTIALS.username, password: [DEMO_CREDENTIALS.password] },
    { username: DEMO_CREDENTIALS.username, password: 12345 }
  ]) {
    const response = await requestToken(app, body)
    t.equal(response.statusCode, 400, JSON.stringify(body))
    t.equal(response.json().code, 'FST_ERR_VALIDATION')
  }
  const refresh = await app.inject({ method: 'POST', url: '/api/refresh', payload: { refreshToken: 12345 } })
  t.equal(refresh.statusCode, 400, 'nor a refresh token')
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

t.test('the API renews its token: POST /api/refresh trades a refresh token for a new pair, once', async t => {
  const app = await demo(t)
  const login = (await requestToken(app)).json()
  t.match(login.refreshToken, /^[\w-]{22}\.[\w-]{43}$/)
  const refresh = (refreshToken: unknown) => app.inject({ method: 'POST', url: '/api/refresh', payload: { refreshToken } })
  const renewed = await refresh(login.refreshToken)
  t.equal(renewed.statusCode, 200)
  const pair = renewed.json()
  t.same(Object.keys(pair).sort(), ['refreshToken', 'token'])
  t.equal((await me(app, { authorization: `Bearer ${pair.token}` })).json().user.id, 1, 'the new token works')
  const again = await refresh(login.refreshToken)
  t.equal(again.statusCode, 401, 'the spent refresh token is refused')
  t.equal(again.json().code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  t.equal((await me(app, { authorization: `Bearer ${pair.token}` })).statusCode, 401, 'and its reuse ended the login')
  t.equal((await refresh(pair.refreshToken)).statusCode, 401, 'with the refresh token it was given')
  t.equal((await refresh({ token: login.refreshToken })).statusCode, 400, 'the body schema refuses what is not a string')
  const fresh = (await requestToken(app)).json()
  t.equal((await refresh(fresh.token)).statusCode, 400, 'an access token is no refresh token (too long for the schema, even)')
  t.equal((await refresh(fresh.refreshToken)).statusCode, 200, 'and trying spent nothing')
})

/** The words of one shell command line as sh would split them: single quotes, double quotes with \" and $VARS. */
function shellWords (line: string, vars: Record<string, string>): string[] {
  const words: string[] = []
  const pattern = /'([^']*)'|"((?:\\.|[^"\\])*)"|(\S+)/g
  for (const [, single, double, bare] of line.matchAll(pattern)) {
    if (single !== undefined) words.push(single)
    else if (double !== undefined) words.push(double.replace(/\\(.)/g, '$1').replace(/\$(\w+)/g, (_m, name: string) => vars[name] ?? ''))
    else words.push((bare as string).replace(/\$(\w+)/g, (_m, name: string) => vars[name] ?? ''))
  }
  return words
}

t.test('docs/demo.md\'s curl lines, run against the demo in order: token, me, refresh, logout', async t => {
  const app = await demo(t)
  const text = readFileSync(join(__dirname, '..', '..', 'docs', 'demo.md'), 'utf8')
  // A line that keeps a curl's answer (`PAIR=$(curl ...)`) is that curl; the lines that read TOKEN and REFRESH out of
  // it are played below by taking them from the login's response.
  const lines = text.replace(/\\\n\s*/g, '').split('\n').map(line => line.trim().replace(/\s+#.*$/, ''))
    .map(line => line.replace(/^[A-Z]+=\$\((curl .*)\)$/, '$1')).filter(line => line.startsWith('curl '))
  t.equal(lines.length, 4)
  const vars: Record<string, string> = {}
  const statuses: number[] = []
  for (const line of lines) {
    const words = shellWords(line, vars)
    let method = 'GET'
    let url = ''
    const headers: Record<string, string> = {}
    let payload: string | undefined
    for (let i = 1; i < words.length; i++) {
      const word = words[i] as string
      if (word === '-s') continue
      if (word === '-X') method = words[++i] as string
      else if (word === '-H') {
        const [name, ...value] = (words[++i] as string).split(':')
        headers[(name as string).toLowerCase()] = value.join(':').trim()
      } else if (word === '-d') {
        payload = words[++i]
        if (method === 'GET') method = 'POST'
      } else url = word.replace(/^localhost:3000/, '')
    }
    const response = await app.inject({ method: method as 'GET', url, headers, ...(payload === undefined ? {} : { payload }) })
    statuses.push(response.statusCode)
    if (response.statusCode === 200 && response.json().token !== undefined) {
      vars.TOKEN = response.json().token
      vars.REFRESH = response.json().refreshToken
    }
  }
  t.same(statuses, [200, 200, 200, 204], 'each line answers as its comment says')
  t.equal((await me(app, { authorization: `Bearer ${vars.TOKEN as string}` })).statusCode, 401, 'logged out at the end')
})
