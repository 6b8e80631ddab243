// Row 6, one response: every way a login fails gives the same status, body and headers (but for the Date header,
// which is the request's own), so the response does not tell an attacker which usernames exist, which accounts are
// inactive or which have no password.
import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { cookieFrom, hashOf, loginAs } from '../helper'
import { buildApp } from './kit'

/** What a client can compare between two answers. */
function observable (response: LightMyRequestResponse) {
  const { date: _date, ...headers } = response.headers
  return { status: response.statusCode, body: response.body, headers }
}

const FAILURES: Array<[string, unknown, unknown]> = [
  ['an unknown user', 'nobody', 'whatever'],
  ['a wrong password', 'alice', 'wrong'],
  ['an inactive user with the right password', 'inactive', 'inactive-pw'],
  ['an inactive user with a wrong password', 'inactive', 'wrong'],
  ['a user with no hash', 'nohash', 'whatever'],
  ['a user with a malformed hash', 'malformed', 'whatever'],
  ['an empty password', 'alice', ''],
  ['an empty username', '', 'whatever'],
  ['a password over the byte limit', 'alice', 'x'.repeat(5000)],
  ['a username over the byte limit', 'a'.repeat(600), 'whatever'],
  ['an array password', 'alice', ['alice-pw']],
  ['a number username', 1, 'alice-pw'],
  ['a missing password', 'alice', undefined]
]

async function setup (t: tap.Test) {
  const errors: unknown[] = []
  const { app, users } = await buildApp(t, {
    routes (app: FastifyInstance) {
      app.addHook('onError', async (_request, _reply, error) => { errors.push(error) })
      app.post('/visit', async (request) => {
        request.session.set('visited', true)
        return {}
      })
    }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'inactive', password: await hashOf('inactive-pw'), isActive: false })
  users.add({ id: 3, username: 'nohash' })
  users.add({ id: 4, username: 'malformed', password: '$argon2id$v=19$m=1,t=1,p=1$c2FsdA$aA' })
  return { app, errors }
}

async function compareAll (t: tap.Test, app: FastifyInstance, cookie: string | undefined) {
  const answers = []
  for (const [name, username, password] of FAILURES) {
    const response = await app.inject({
      method: 'POST', url: '/login', payload: { username, password }, headers: cookie === undefined ? {} : { cookie }
    })
    answers.push({ name, ...observable(response) })
  }
  const [first, ...rest] = answers
  t.equal(first?.status, 401)
  t.same(JSON.parse(first?.body ?? '{}'), {
    statusCode: 401, code: 'FST_AUTH_AUTHENTICATION_FAILED', error: 'Unauthorized', message: 'Invalid username or password'
  })
  t.equal(first?.headers['set-cookie'], undefined, 'a failed login sets no cookie')
  for (const answer of rest) {
    const { name, ...seen } = answer
    t.same(seen, { status: first?.status, body: first?.body, headers: first?.headers }, `${name} answers as ${first?.name} does`)
  }
}

t.test('every failure path answers alike, with no session', async t => {
  const { app } = await setup(t)
  await compareAll(t, app, undefined)
})

t.test('every failure path answers alike, over an anonymous session', async t => {
  const { app } = await setup(t)
  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/visit' }))
  t.ok(cookie)
  await compareAll(t, app, cookie)
})

t.test('every failure path answers alike, over a logged-in session', async t => {
  const { app } = await setup(t)
  await compareAll(t, app, await loginAs(app, 'alice', 'alice-pw'))
})

t.test('request.authenticate() rejects with one error for every path', async t => {
  const { app, errors } = await setup(t)
  for (const [, username, password] of FAILURES) {
    await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
  }
  t.equal(errors.length, FAILURES.length)
  const shapes = errors.map(error => {
    const { name, code, message, statusCode } = error as Record<string, unknown>
    return { name, code, message, statusCode, type: (error as object).constructor.name }
  })
  for (const shape of shapes) t.same(shape, shapes[0])
})
