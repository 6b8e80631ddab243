import t from 'tap'
import Fastify from 'fastify'
import auth, { createMemoryLoginStore } from '../../lib/index'
import { assertReadmeShowsRecipe } from '../security/kit'
import { TestUsers, hashOf } from '../helper'
import { JWT_SECRET } from './kit'

// docs/refresh-tokens.md's example, run as written: the recipe below appears there line for line.

t.test('the documented refresh flow: login, refresh from the body and from the cookie, reuse ends the login', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const process = { env: { JWT_SECRET } }
  const app = Fastify()
  t.teardown(() => app.close())
  const warnings: unknown[] = []
  app.log.warn = ((object: unknown) => { warnings.push(object) }) as never
  // recipe:refresh:start
  await app.register(auth, {
    users,
    defaultBackend: 'jwt',
    // One process: in memory. Several instances: createRedisLoginStore(redisClient).
    loginStore: createMemoryLoginStore(),
    jwt: {
      secret: process.env.JWT_SECRET!,           // 32+ characters from your secrets
      expiresIn: '15m',
      refresh: {
        expiresIn: '14d',
        // For browsers: HttpOnly, Secure, SameSite=Strict, sent to the refresh route only.
        cookie: { name: 'refresh', path: '/auth/refresh' },
        onReuse: ({ userId, loginId }) => app.log.warn({ userId, loginId }, 'refresh token reuse: login ended')
      }
    }
  })

  const credentials = {
    type: 'object',
    required: ['username', 'password'],
    additionalProperties: false,
    properties: { username: { type: 'string' }, password: { type: 'string' } }
  }
  app.post<{ Body: { username: string, password: string } }>('/auth/login', { schema: { body: credentials } }, async (request) => {
    const user = await request.authenticate(request.body.username, request.body.password)
    // The refresh token goes out in its HttpOnly cookie only: never in a body, where page scripts would read it.
    return { accessToken: await request.login({ user }) }
  })

  app.post('/auth/refresh', async (request) => {
    // The refresh cookie's token is spent for a new pair: the new refresh token in the cookie, the access token here.
    const { accessToken } = await request.refresh()
    return { accessToken }
  })
  // recipe:refresh:end
  assertReadmeShowsRecipe(t, __filename, 'refresh')
  app.get('/me', { preHandler: app.requireUser }, async (request) => ({ user: request.user }))

  t.equal((await app.inject({ method: 'POST', url: '/auth/login' })).statusCode, 400, 'a login without a body is 400, not 500')
  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'bob', password: 'pw' } })
  t.same(Object.keys(login.json()), ['accessToken'], 'no refresh token in the body, where page scripts would see it')
  const { accessToken } = login.json()
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 200)
  const cookie = login.cookies.find(c => c.name === 'refresh') as { value: string, path: string, sameSite: string, httpOnly: boolean }
  const refreshToken = cookie.value
  t.equal(cookie.path, '/auth/refresh')
  t.ok(cookie.httpOnly)

  t.equal((await app.inject({ method: 'POST', url: '/auth/refresh' })).statusCode, 401, 'no cookie, no refresh')
  const first = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: { refresh: refreshToken } })
  t.equal(first.statusCode, 200)
  t.same(Object.keys(first.json()), ['accessToken'], 'a refresh answers the access token only')
  const next = (first.cookies.find(c => c.name === 'refresh') as { value: string }).value
  t.not(next, refreshToken, 'the new refresh token is in the cookie')
  const second = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: { refresh: next } })
  t.equal(second.statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${second.json().accessToken}` } })).statusCode, 200)

  const replay = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: { refresh: refreshToken } })
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${second.json().accessToken}` } })).statusCode, 401)
  t.equal(warnings.filter(w => (w as { loginId?: unknown }).loginId !== undefined).length, 2, 'the app\'s listener and the plugin\'s own warning')
  t.notMatch(JSON.stringify(warnings), refreshToken.split('.')[1], 'no token in the logs')
})

t.test('the documented refresh flow of API clients: both tokens in the body, without a cookie', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const process = { env: { JWT_SECRET } }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, { users, defaultBackend: 'jwt', loginStore: createMemoryLoginStore(), jwt: { secret: process.env.JWT_SECRET!, refresh: true } })
  // recipe:refresh-api:start
  const credentials = {
    type: 'object',
    required: ['username', 'password'],
    additionalProperties: false,
    properties: { username: { type: 'string' }, password: { type: 'string' } }
  }
  app.post<{ Body: { username: string, password: string } }>('/api/login', { schema: { body: credentials } }, async (request) => {
    const user = await request.authenticate(request.body.username, request.body.password)
    await request.login({ user })
    return request.issuedTokens()                  // { accessToken, refreshToken }: the client keeps both
  })

  const refreshBody = { type: 'object', required: ['refreshToken'], properties: { refreshToken: { type: 'string' } } }
  app.post<{ Body: { refreshToken: string } }>('/api/refresh', { schema: { body: refreshBody } }, async (request) => {
    return await request.refresh(request.body.refreshToken) // a new { accessToken, refreshToken }, the old one spent
  })
  // recipe:refresh-api:end
  assertReadmeShowsRecipe(t, __filename, 'refresh-api')
  const login = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'bob', password: 'pw' } })
  t.same(login.cookies, [], 'no cookie')
  const { refreshToken } = login.json()
  const refreshed = await app.inject({ method: 'POST', url: '/api/refresh', payload: { refreshToken } })
  t.equal(refreshed.statusCode, 200)
  t.type(refreshed.json().refreshToken, 'string')
  t.equal((await app.inject({ method: 'POST', url: '/api/refresh', payload: { refreshToken } })).statusCode, 401, 'spent')
  t.equal((await app.inject({ method: 'POST', url: '/api/refresh' })).statusCode, 400, 'no body is 400')
})
