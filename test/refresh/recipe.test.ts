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

  app.post('/auth/login', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    const user = await request.authenticate(username, password)
    const accessToken = await request.login({ user })
    // API clients keep the refresh token from the body; browsers have it in the cookie.
    return { accessToken, refreshToken: request.issuedTokens()?.refreshToken }
  })

  app.post('/auth/refresh', async (request) => {
    // The body's token (API clients), else the refresh cookie's (browsers): a new pair, the old token spent.
    const { refreshToken } = (request.body ?? {}) as { refreshToken?: string }
    return await request.refresh(refreshToken)
  })
  // recipe:refresh:end
  assertReadmeShowsRecipe(t, __filename, 'refresh')
  app.get('/me', { preHandler: app.requireUser }, async (request) => ({ user: request.user }))

  const login = await app.inject({ method: 'POST', url: '/auth/login', payload: { username: 'bob', password: 'pw' } })
  const { accessToken, refreshToken } = login.json()
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode, 200)
  const cookie = login.cookies.find(c => c.name === 'refresh') as { value: string, path: string, sameSite: string }
  t.equal(cookie.value, refreshToken)
  t.equal(cookie.path, '/auth/refresh')

  const byBody = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
  t.equal(byBody.statusCode, 200)
  const byCookie = await app.inject({ method: 'POST', url: '/auth/refresh', cookies: { refresh: byBody.json().refreshToken } })
  t.equal(byCookie.statusCode, 200)
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${byCookie.json().accessToken}` } })).statusCode, 200)

  const replay = await app.inject({ method: 'POST', url: '/auth/refresh', payload: { refreshToken } })
  t.equal(replay.statusCode, 401)
  t.equal(replay.json().code, 'FST_AUTH_INVALID_REFRESH_TOKEN')
  t.equal((await app.inject({ url: '/me', headers: { authorization: `Bearer ${byCookie.json().accessToken}` } })).statusCode, 401)
  t.equal(warnings.filter(w => (w as { loginId?: unknown }).loginId !== undefined).length, 2, 'the app\'s listener and the plugin\'s own warning')
  t.notMatch(JSON.stringify(warnings), refreshToken.split('.')[1], 'no token in the logs')
})
