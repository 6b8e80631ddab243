import t from 'tap'
import { MemoryStore } from '@fastify/session'
import { build, hashOf } from '../helper'
import { JWT_SECRET, decodeSegment } from '../jwt/helper'
import { sessionStoreLogins } from '../../lib/login-store/memory'
import type { SessionStore } from '../../lib/store'
import { addLoginRoutes, fakeClock, listWith, loginFrom } from './helper'

// JWT logins with a login store: listed beside session logins and ended at once, not at the token's `exp`.

async function app (t: Parameters<typeof build>[0]) {
  const clock = fakeClock()
  const { app: server, users } = await build(t, {
    plugin: {
      now: clock.now,
      jwt: { secret: JWT_SECRET, expiresIn: '1h' },
      loginStore: sessionStoreLogins(new MemoryStore() as SessionStore, true, clock.now)
    },
    extend: (app) => {
      addLoginRoutes(app)
      app.post('/login-jwt', async (request) => {
        const { username, password } = request.body as { username: string, password: string }
        return { token: await request.login({ user: await request.authenticate(username, password), backend: 'jwt' }) }
      })
    }
  })
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  return { server, clock }
}

async function tokenFrom (server: Awaited<ReturnType<typeof app>>['server'], ua: string): Promise<string> {
  const response = await server.inject({ method: 'POST', url: '/login-jwt', payload: { username: 'bob', password: 'pw' }, headers: { 'user-agent': ua } })
  return response.json().token
}

t.test('a JWT login is listed like a session login, its id neither the token nor its sid', async t => {
  const { server, clock } = await app(t)
  const cookie = await loginFrom(server, { ua: 'Browser' })
  clock.advance(1)
  const token = await tokenFrom(server, 'CLI')
  const listed = await listWith(server, { authorization: `Bearer ${token}` })
  t.same(listed.map(login => [login.backend, login.userAgent, login.current]), [['jwt', 'CLI', true], ['session', 'Browser', false]])
  const claims = decodeSegment(token, 1)
  t.type(claims.sid, 'string', 'the token names its login by a handle of its own')
  const body = JSON.stringify(listed)
  t.notOk(body.includes(claims.sid as string), 'the listing holds no sid')
  t.notOk(body.includes(claims.jti as string), 'nor the jti')
  t.notOk(body.includes(token.split('.')[2] as string), 'nor the token')
  t.same((await listWith(server, { cookie })).map(login => login.current), [false, true])
})

t.test('an ended JWT login stops authenticating at the next request, long before its exp', async t => {
  const { server } = await app(t)
  const browser = await loginFrom(server)
  const cli = await tokenFrom(server, 'CLI')
  const headers = { authorization: `Bearer ${cli}` }
  t.equal((await server.inject({ url: '/me', headers })).statusCode, 200)
  const id = (await listWith(server, headers)).find(login => login.current)?.id
  const ended = await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: browser }, payload: { id } })
  t.same(ended.json(), { ended: true })
  t.equal((await server.inject({ url: '/me', headers })).statusCode, 401, 'the token is refused at once')

  const again = await tokenFrom(server, 'CLI')
  t.same((await server.inject({ method: 'POST', url: '/logins/end-others', headers: { cookie: browser } })).json(), { ended: 1 })
  t.equal((await server.inject({ url: '/me', headers: { authorization: `Bearer ${again}` } })).statusCode, 401, 'endOtherLogins ends tokens')

  const third = await tokenFrom(server, 'CLI')
  t.equal(await server.endLogins(1), 2, 'the browser\'s session and the token')
  t.equal((await server.inject({ url: '/me', headers: { authorization: `Bearer ${third}` } })).statusCode, 401)
  t.equal((await server.inject({ url: '/me', headers: { cookie: browser } })).statusCode, 401)
})

t.test('a JWT login ends itself and its listing from a token', async t => {
  const { server } = await app(t)
  const browser = await loginFrom(server)
  const cli = await tokenFrom(server, 'CLI')
  const headers = { authorization: `Bearer ${cli}` }
  t.same((await server.inject({ method: 'POST', url: '/logins/end-others', headers })).json(), { ended: 1 })
  t.equal((await server.inject({ url: '/me', headers: { cookie: browser } })).statusCode, 401, 'the token ended the browser\'s session')
  t.equal((await server.inject({ method: 'POST', url: '/logout', headers })).statusCode, 200)
  t.equal((await server.inject({ url: '/me', headers })).statusCode, 401, 'logout ends the token at once')
  t.same(await server.listLogins(1), [])
})
