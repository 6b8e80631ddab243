import t from 'tap'
import { TestUsers, build, hashOf, loginAs } from './helper'
import { bearer, buildJwt, tokenFor } from './jwt-helper'

// Review: what a response says when something behind the plugin fails, and what it leaves the client holding.

/** What a database driver's error says: a host, a table, a query. None of it is the client's business. */
const INTERNALS = 'connect ECONNREFUSED 10.0.3.7:5432 (SELECT * FROM staff_users WHERE id = $1)'

function failing (): never {
  throw new Error(INTERNALS)
}

t.test('a user store that fails answers 503 FST_AUTH_USER_STORE_ERROR, without its message', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const logged: unknown[] = []
  const { app } = await build(t, {
    users,
    fastify: { logger: { level: 'error', stream: { write: (line: string) => logged.push(JSON.parse(line)) } } },
    extend: app => app.post('/login-as', async request => { await request.login({ userId: 1 }); return {} })
  })
  const cookie = await loginAs(app, 'ann', 'pw')
  users.findById = async () => failing()
  users.findByUsername = async () => failing()
  const requests = {
    'resolving request.user (findById)': { url: '/whoami', headers: { cookie } },
    'login({ userId }) (findById)': { method: 'POST' as const, url: '/login-as' },
    'authenticate (findByUsername)': { method: 'POST' as const, url: '/check', payload: { username: 'ann', password: 'pw' } }
  }
  for (const [name, request] of Object.entries(requests)) {
    logged.length = 0
    const response = await app.inject(request)
    t.equal(response.statusCode, 503, name)
    t.equal(response.json().code, 'FST_AUTH_USER_STORE_ERROR', name)
    t.notMatch(response.body, /ECONNREFUSED|10\.0\.3\.7|SELECT|staff_users/, `${name}: the store's message stays on the server`)
    t.match(JSON.stringify(logged), /ECONNREFUSED 10\.0\.3\.7/, `${name}: and is logged there, as the error's cause`)
  }
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
