import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { getUserFromSession, logout } from '../lib/index'
import { TestUsers, build, cookieFrom, hashOf } from './helper'
import { JWT_SECRET, bearer, whoami } from './jwt-helper'

// Review: the seed-named functions and their decorators, called the way a port of the seed's code calls them.

async function buildBoth (t: { teardown: (fn: () => unknown) => void }, revoked: Set<string>): Promise<FastifyInstance> {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    plugin: {
      jwt: {
        secret: JWT_SECRET,
        revoke: async (claims: { jti: string }) => { revoked.add(claims.jti) },
        isRevoked: async (claims: { jti: string }) => revoked.has(claims.jti)
      }
    },
    extend: app => {
      app.post('/api/token', async request => ({ token: await request.login({ userId: 1, backend: 'jwt' }) }))
      app.post('/api/logout/decorator', async request => { await request.logout('jwt' as never); return { done: true } })
      app.post('/api/logout/function', async request => { await logout(request, 'jwt' as never); return { done: true } })
      app.post('/api/logout/array', async request => { await request.logout(['jwt'] as never); return { done: true } })
      app.post('/cart', async request => { request.session.set('cart', ['book']); return {} })
      app.get('/cart', async request => ({ user: await getUserFromSession(request), cart: request.session.get('cart') ?? null }))
    }
  })
  return app
}

t.test('logout(\'jwt\'), the seed\'s positional backend, is refused rather than logging out the default backend', async t => {
  const revoked = new Set<string>()
  const app = await buildBoth(t, revoked)
  for (const route of ['/api/logout/decorator', '/api/logout/function', '/api/logout/array']) {
    const token = (await app.inject({ method: 'POST', url: '/api/token' })).json().token as string
    const response = await app.inject({ method: 'POST', url: route, headers: bearer(token) })
    t.equal(response.statusCode, 500, `${route}: not reported as a logout`)
    t.equal(response.json().code, 'FST_AUTH_INVALID_ARGUMENT', route)
    t.match(response.json().message, /logout\(\) takes \{ backend \}/, route)
    t.equal(revoked.size, 0, `${route}: nothing was revoked`)
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, `${route}: the client knows its token still works`)
  }
})

t.test('getUserFromSession() on an anonymous visitor leaves their session alone', async t => {
  const app = await buildBoth(t, new Set())
  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/cart' }))!
  for (let i = 0; i < 2; i++) {
    const response = await app.inject({ url: '/cart', headers: { cookie } })
    t.same(response.json(), { user: null, cart: ['book'] }, 'the visitor\'s data is still there')
    t.equal(response.headers['set-cookie'], undefined, 'the session was neither replaced nor expired')
  }
})
