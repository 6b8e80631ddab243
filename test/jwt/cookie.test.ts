import t from 'tap'
import fastifyCookie from '@fastify/cookie'
import { getUserId } from '../../lib/index'
import { bearer, buildJwt, tokenFor, whoami } from './helper'

interface SetCookie { name: string, value: string, [attribute: string]: unknown }

function tokenCookie (response: { cookies: SetCookie[] }, name = 'token'): SetCookie | undefined {
  return response.cookies.find(cookie => cookie.name === name)
}

async function loginResponse (app: import('fastify').FastifyInstance, username = 'bob', password = 'pw') {
  return app.inject({ method: 'POST', url: '/login', payload: { username, password } })
}

t.test('with jwt.cookie, login also sets the token as an HttpOnly, SameSite=Lax, Secure cookie for its lifetime', async t => {
  const { app } = await buildJwt(t, { cookie: { name: 'token' } })
  const response = await loginResponse(app)
  const cookie = tokenCookie(response)
  t.ok(cookie)
  t.equal(cookie?.value, response.json().token)
  t.equal(cookie?.httpOnly, true)
  t.equal(cookie?.sameSite, 'Lax')
  t.equal(cookie?.secure, true)
  t.equal(cookie?.path, '/')
  t.equal(cookie?.maxAge, 900, 'the cookie lives as long as the token')
  t.same(await whoami(app, { cookie: `token=${cookie?.value}` }), { status: 200, id: 1 })
  const anonymous = await app.inject({ url: '/whoami' })
  t.equal(anonymous.headers['set-cookie'], undefined, 'an anonymous visitor gets no cookie')
  const reading = await app.inject({ url: '/whoami', headers: { cookie: `token=${cookie?.value}` } })
  t.equal(reading.headers['set-cookie'], undefined, 'reading a token writes no cookie')
})

t.test('the cookie options are the app\'s to change', async t => {
  const { app } = await buildJwt(t, {
    expiresIn: '1h',
    cookie: { name: 'api-token', secure: false, sameSite: 'strict', path: '/api', domain: 'example.com', maxAge: 60 }
  })
  const cookie = tokenCookie(await loginResponse(app), 'api-token')
  t.equal(cookie?.secure, undefined)
  t.equal(cookie?.sameSite, 'Strict')
  t.equal(cookie?.path, '/api')
  t.equal(cookie?.domain, 'example.com')
  t.equal(cookie?.maxAge, 60)
  t.equal(cookie?.httpOnly, true, 'HttpOnly stays unless the app turns it off')

  const { app: auto } = await buildJwt(t, { cookie: { name: 'token', secure: 'auto' } })
  t.equal(tokenCookie(await loginResponse(auto))?.secure, undefined, 'secure: "auto" over plain http')
})

t.test('the Authorization header comes first; a token in it is judged alone', async t => {
  const { app } = await buildJwt(t, { cookie: { name: 'token' } })
  const bob = await tokenFor(app)
  const alice = await tokenFor(app, 'alice', 'pw2')
  t.same(await whoami(app, { ...bearer(alice), cookie: `token=${bob}` }), { status: 200, id: 2 })
  t.same(await whoami(app, { ...bearer(alice.slice(0, -1)), cookie: `token=${bob}` }), { status: 200, id: null },
    'a refused bearer token does not fall back to the cookie')
  t.same(await whoami(app, { authorization: 'Bearer', cookie: `token=${bob}` }), { status: 200, id: 1 },
    'an Authorization header without a token is no bearer token')
  t.same(await whoami(app, { authorization: 'Basic Ym9iOnB3', cookie: `token=${bob}` }), { status: 200, id: 1 })
  t.same(await whoami(app, { cookie: 'token=' }), { status: 200, id: null })
  t.same(await whoami(app, { cookie: `other=${bob}` }), { status: 200, id: null }, 'only the configured cookie name')
})

t.test('logout clears the cookie; stale tokens in a cookie get it cleared too', async t => {
  const { app, users } = await buildJwt(t, { cookie: { name: 'token', path: '/', domain: 'example.com' } })
  const token = await tokenFor(app)
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: `token=${token}` } })
  t.same(logout.json(), { user: null })
  const cleared = tokenCookie(logout)
  t.equal(cleared?.value, '')
  t.equal(cleared?.maxAge, 0)
  t.equal(cleared?.domain, 'example.com', 'cleared with the attributes it was set with')
  t.equal((cleared?.expires as Date).getTime(), 0)

  const viaHeader = await app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
  t.equal(viaHeader.headers['set-cookie'], undefined, 'a bearer client has no cookie to clear')

  users.byId.delete(1)
  const stale = await app.inject({ url: '/whoami', headers: { cookie: `token=${token}` } })
  t.equal(stale.json().user, null)
  t.equal(tokenCookie(stale)?.value, '', 'the token of a deleted user is cleared from the browser')
})

t.test('login then logout within one request sends a clearing cookie, not the token', async t => {
  const { app } = await buildJwt(t, { cookie: { name: 'token' } }, {
    after: app => {
      app.post('/login-logout', async request => {
        await request.login({ userId: 1 })
        await request.logout()
        return { id: getUserId(request, 'jwt') }
      })
    }
  })
  const response = await app.inject({ method: 'POST', url: '/login-logout' })
  t.same(response.json(), { id: null })
  t.equal(tokenCookie(response)?.value, '')
})

t.test('an app that registered @fastify/cookie keeps it, and the token cookie sits beside its own cookies', async t => {
  const { app } = await buildJwt(t, { cookie: { name: 'token' } }, {
    before: async app => { await app.register(fastifyCookie, { secret: 'cookie-signing-secret' }) },
    after: app => {
      app.post('/login-and-cookie', async (request, reply) => {
        reply.setCookie('theme', 'dark')
        return { token: await request.login({ userId: 1 }) }
      })
    }
  })
  const response = await app.inject({ method: 'POST', url: '/login-and-cookie' })
  t.equal(tokenCookie(response)?.value, response.json().token)
  t.equal(tokenCookie(response, 'theme')?.value, 'dark')
  t.equal(app.signCookie('x').startsWith('x.'), true, 'the app\'s @fastify/cookie options are untouched')
})

t.test('a JWT login whose request then fails does not hand out the token cookie', async t => {
  const { app } = await buildJwt(t, { cookie: { name: 'token', secure: false } }, {
    after: app => {
      app.post('/login-then-fail', async request => {
        await request.login({ userId: 1 })
        throw new Error('the route failed after login')
      })
      app.post('/login-then-refuse', async (request, reply) => {
        await request.login({ userId: 1 })
        return reply.code(422).send({ refused: true })
      })
    }
  })
  const failed = await app.inject({ method: 'POST', url: '/login-then-fail' })
  t.equal(failed.statusCode, 500)
  t.equal(failed.cookies.find(cookie => cookie.name === 'token'), undefined, 'no token cookie on a 5xx')
  const refused = await app.inject({ method: 'POST', url: '/login-then-refuse' })
  t.ok(refused.cookies.find(cookie => cookie.name === 'token')?.value, 'a 4xx is the route\'s own answer: its login stands')
  t.equal((await app.inject({ url: '/me', headers: bearer(await tokenFor(app)) })).statusCode, 200, 'logins that succeed still work')
})
