// Issue 11, item 3: @fastify/session gives no session to a request whose raw target is outside the cookie's path, and
// a client picks the target: an absolute-form request (`POST http://host/login HTTP/1.1`, which Fastify routes as
// /login), or with a non-root cookie path a percent-encoded one (`/%61pp/login`, routed as /app/login). On such a
// request login() answered 500 (client input never gives a 5xx) and logout() answered 200 while the session it
// could not see stayed logged in. Now both answer 400 FST_AUTH_SESSION_UNAVAILABLE, and the login is untouched.
// light-my-request turns an absolute URL into a path, so the absolute-form requests go over a real socket.
import t from 'tap'
import { connect } from 'node:net'
import type { FastifyInstance } from 'fastify'
import { addRoutes, build, cookieFrom, hashOf, loginAs } from '../helper'

interface Raw { status: number, body: Record<string, unknown>, headers: string }

/** One HTTP/1.1 request written by hand, so the request target is exactly `target`. */
async function rawRequest (app: FastifyInstance, method: string, target: string, { cookie, body }: { cookie?: string, body?: unknown } = {}): Promise<Raw> {
  const { port } = app.server.address() as { port: number }
  const payload = body === undefined ? '' : JSON.stringify(body)
  const head = [
    `${method} ${target} HTTP/1.1`, `Host: localhost:${port}`, 'Connection: close',
    ...(cookie === undefined ? [] : [`Cookie: ${cookie}`]),
    ...(body === undefined ? [] : ['Content-Type: application/json', `Content-Length: ${Buffer.byteLength(payload)}`])
  ].join('\r\n')
  const text = await new Promise<string>((resolve, reject) => {
    // Not end(): a client that half-closes before the answer (argon2 takes a while) gets none.
    const socket = connect(port, '127.0.0.1', () => socket.write(`${head}\r\n\r\n${payload}`))
    let received = ''
    socket.setEncoding('utf8')
    socket.on('data', chunk => { received += chunk })
    socket.on('end', () => resolve(received))
    socket.on('error', reject)
  })
  const [headers = '', content = ''] = text.split('\r\n\r\n')
  // Connection: close without chunking here: the body follows the headers whole.
  const json = content.slice(content.indexOf('{'), content.lastIndexOf('}') + 1)
  return { status: Number(headers.split(' ')[1]), body: json === '' ? {} : JSON.parse(json), headers }
}

async function setup (t: tap.Test, cookiePath = '/'): Promise<{ app: FastifyInstance, prefix: string }> {
  const prefix = cookiePath === '/' ? '' : cookiePath
  const { app, users } = await build(t, {
    session: { cookie: { secure: false, path: cookiePath } },
    routes: false,
    extend: (app) => app.register(async (scope) => {
      addRoutes(scope)
      scope.post('/destroy-then-logout', async (request) => {
        await request.session.destroy()
        await request.logout()
        return { user: request.user }
      })
    }, { prefix })
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  return { app, prefix }
}

async function whoIs (app: FastifyInstance, prefix: string, cookie: string): Promise<unknown> {
  return (await app.inject({ url: `${prefix}/whoami`, headers: { cookie } })).json().id
}

t.test('a percent-encoded path outside a non-root cookie path: login and logout answer 400, the login stays', async t => {
  const { app, prefix } = await setup(t, '/app')
  const cookie = await app.inject({ method: 'POST', url: '/app/login', payload: { username: 'alice', password: 'alice-pw' } })
    .then(response => cookieFrom(response) as string)
  t.equal(await whoIs(app, prefix, cookie), 1, 'control: logged in through /app/login')

  for (const target of ['/%61pp/login', '/%61%70%70/login']) {
    const login = await app.inject({ method: 'POST', url: target, payload: { username: 'alice', password: 'alice-pw' } })
    t.equal(login.statusCode, 400, `${target}: 400, not 500`)
    t.equal(login.json().code, 'FST_AUTH_SESSION_UNAVAILABLE')
    t.equal(cookieFrom(login), undefined, 'no cookie')
  }
  const logout = await app.inject({ method: 'POST', url: '/%61pp/logout', headers: { cookie } })
  t.equal(logout.statusCode, 400, 'a logout that cannot see the login does not answer success')
  t.equal(logout.json().code, 'FST_AUTH_SESSION_UNAVAILABLE')
  t.equal(await whoIs(app, prefix, cookie), 1, 'and the login is as it was, which the 400 does not hide')
  const real = await app.inject({ method: 'POST', url: '/app/logout', headers: { cookie } })
  t.equal(real.statusCode, 200)
  t.equal(await whoIs(app, prefix, cookie), null, 'logout on the path the cookie names ends it')
})

t.test('an absolute-form request target, over a real socket: login and logout answer 400, the login stays', async t => {
  const { app } = await setup(t)
  await app.listen({ port: 0, host: '127.0.0.1' })
  const { port } = app.server.address() as { port: number }
  const cookie = await loginAs(app, 'alice', 'alice-pw')
  const normal = await rawRequest(app, 'GET', '/whoami', { cookie })
  t.equal(normal.body.id, 1, 'control: the cookie is alice over the socket')

  const login = await rawRequest(app, 'POST', `http://localhost:${port}/login`, { body: { username: 'alice', password: 'alice-pw' } })
  t.equal(login.status, 400, 'absolute-form login: 400, not 500')
  t.equal(login.body.code, 'FST_AUTH_SESSION_UNAVAILABLE')
  t.notMatch(login.headers, /set-cookie: sessionId=[^;]/i, 'no cookie')

  const logout = await rawRequest(app, 'POST', `http://localhost:${port}/logout`, { cookie })
  t.equal(logout.status, 400, 'absolute-form logout: not a success')
  t.equal(logout.body.code, 'FST_AUTH_SESSION_UNAVAILABLE')
  t.equal((await rawRequest(app, 'GET', '/whoami', { cookie })).body.id, 1, 'the login stays, and the client was told so')
  t.equal((await rawRequest(app, 'POST', '/logout', { cookie })).status, 200)
  t.equal((await rawRequest(app, 'GET', '/whoami', { cookie })).body.id, null, 'an origin-form logout ends it')
})

t.test('a session the app destroyed itself has no login left: logout after it succeeds', async t => {
  const { app } = await setup(t)
  const cookie = await loginAs(app, 'alice', 'alice-pw')
  const response = await app.inject({ method: 'POST', url: '/destroy-then-logout', headers: { cookie } })
  t.equal(response.statusCode, 200)
  t.same(response.json(), { user: null })
  t.equal(await whoIs(app, '', cookie), null)
})
