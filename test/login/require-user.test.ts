import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { requireUser } from '../../lib/index'
import { TestUsers, build, hashOf, loginAs } from '../helper'
import { bearer, buildJwt, tokenFor } from '../jwt/helper'

/** GET /name reads the user with request.requireUser(), with no preHandler; GET /same checks it is request.user. */
function routes (app: FastifyInstance): void {
  app.get('/name', async (request) => ({ name: (request.requireUser() as { username: string }).username }))
  app.get('/same', { preHandler: app.requireUser }, async (request) => ({
    same: request.requireUser() === request.user && requireUser(request) === request.user
  }))
}

t.test('request.requireUser() is request.user when there is one, and a 401 FST_AUTH_UNAUTHORIZED when not', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users, extend: routes })

  const anonymous = await app.inject({ url: '/name' })
  t.equal(anonymous.statusCode, 401, 'a route that forgot the preHandler still never runs on without a user')
  t.equal(anonymous.json().code, 'FST_AUTH_UNAUTHORIZED')
  t.equal(anonymous.headers['www-authenticate'], undefined, 'a session app sends no Bearer challenge')

  const cookie = await loginAs(app, 'ann', 'pw')
  t.same((await app.inject({ url: '/name', headers: { cookie } })).json(), { name: 'ann' })
  t.same((await app.inject({ url: '/same', headers: { cookie } })).json(), { same: true }, 'the decorator and the function are one')
})

t.test('request.requireUser() with the jwt backend carries the same Bearer challenge as app.requireUser', async t => {
  const { app } = await buildJwt(t, {}, { after: routes })
  const anonymous = await app.inject({ url: '/name' })
  t.equal(anonymous.statusCode, 401)
  t.equal(anonymous.headers['www-authenticate'], 'Bearer')
  const refused = await app.inject({ url: '/name', headers: bearer('not.a.token') })
  t.equal(refused.statusCode, 401)
  t.equal(refused.headers['www-authenticate'], 'Bearer error="invalid_token"')
  const good = await app.inject({ url: '/name', headers: bearer(await tokenFor(app)) })
  t.same(good.json(), { name: 'bob' })
  t.equal(good.headers['www-authenticate'], undefined)
})

t.test('a 401 of requireUser is logged at info without a stack: a missing login is the client\'s, not an error', async t => {
  const logged: Array<{ level: number, msg?: string, err?: { stack?: string, code?: string } }> = []
  const { app } = await build(t, {
    extend: routes,
    fastify: { logger: { level: 'info', stream: { write: (line: string) => logged.push(JSON.parse(line)) } } }
  })
  t.equal((await app.inject({ url: '/me' })).statusCode, 401, 'app.requireUser')
  t.equal((await app.inject({ url: '/name' })).statusCode, 401, 'request.requireUser()')
  const errors = logged.filter(line => line.err !== undefined)
  t.equal(errors.length, 2, 'one line each')
  for (const line of errors) {
    t.equal(line.level, 30, 'at info')
    t.equal(line.err?.code, 'FST_AUTH_UNAUTHORIZED')
    t.notMatch(line.err?.stack ?? '', /\n\s+at /, 'no stack frames')
  }
})
