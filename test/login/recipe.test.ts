import t from 'tap'
import Fastify, { type FastifyReply, type FastifyRequest } from 'fastify'
import auth from '../../lib/index'
import { SECRET, TestUsers, hashOf, type TestUser } from '../helper'
import { assertReadmeShowsRecipe } from '../security/kit'
import { loginFrom } from './helper'

// docs/logins.md's recipe, run as it is written there: the account page's three routes, an admin's "sign out
// everywhere", and an audit log fed by onLoginEnded.

t.test('the docs/logins.md recipe lists, ends one, ends the others and signs out everywhere', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  users.add({ id: 2, username: 'root', password: await hashOf('admin pw'), isAdmin: true } as TestUser)
  const process = { env: { SESSION_SECRET: SECRET } }
  const recipeApp = Fastify()
  t.teardown(() => recipeApp.close())
  // The recipe's own audit log, handed back for the checks below.
  const audit = await (async (app: typeof recipeApp) => {
    // recipe:logins:start
    // Your audit log; here an array.
    const audit: Array<{ userId: unknown, loginId: string, reason: string }> = []

    await app.register(auth, {
      users,
      // Several instances: a shared session store too (`store`), and loginStore: createRedisLoginStore(redis).
      session: { secret: process.env.SESSION_SECRET!, cookie: { secure: 'auto' } },
      onLoginEnded ({ userId, loginId, reason }) {
        audit.push({ userId, loginId, reason })
      }
    })

    app.get('/account/logins', { preHandler: app.requireUser }, async (request) => {
      return { logins: await request.listLogins() }
    })

    app.post('/account/logins/end', { preHandler: app.requireUser }, async (request) => {
      const { id } = (request.body ?? {}) as { id?: unknown }
      return { ended: await request.endLogin(typeof id === 'string' ? id : '') }
    })

    app.post('/account/logins/end-others', { preHandler: app.requireUser }, async (request) => {
      return { ended: await request.endOtherLogins() }
    })

    // Your rule for who may sign others out; here the user's `isAdmin` flag.
    async function requireAdmin (request: FastifyRequest, reply: FastifyReply): Promise<void> {
      if (request.user?.isAdmin !== true) await reply.code(403).send({ error: 'admins only' })
    }

    app.post('/admin/users/:id/sign-out', { preHandler: requireAdmin }, async (request) => {
      return { ended: await app.endLogins(Number((request.params as { id: string }).id)) }
    })
    // recipe:logins:end
    return audit
  })(recipeApp)
  recipeApp.post('/login', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    await request.login({ user: await request.authenticate(username, password) })
    return {}
  })
  recipeApp.get('/me', { preHandler: recipeApp.requireUser }, async () => ({}))
  await recipeApp.ready()

  const [phone, laptop, tablet] = [await loginFrom(recipeApp, { ua: 'phone' }), await loginFrom(recipeApp, { ua: 'laptop' }), await loginFrom(recipeApp, { ua: 'tablet' })]
  const listed = (await recipeApp.inject({ url: '/account/logins', headers: { cookie: laptop } })).json().logins
  t.equal(listed.length, 3)
  const phoneId = listed.find((login: { userAgent: string }) => login.userAgent === 'phone').id
  t.same((await recipeApp.inject({ method: 'POST', url: '/account/logins/end', headers: { cookie: laptop }, payload: { id: phoneId } })).json(), { ended: true })
  t.same((await recipeApp.inject({ method: 'POST', url: '/account/logins/end', headers: { cookie: laptop }, payload: { id: 7 } })).json(), { ended: false })
  t.same((await recipeApp.inject({ method: 'POST', url: '/account/logins/end', headers: { cookie: laptop } })).json(), { ended: false })
  t.equal((await recipeApp.inject({ url: '/me', headers: { cookie: phone } })).statusCode, 401)
  t.same((await recipeApp.inject({ method: 'POST', url: '/account/logins/end-others', headers: { cookie: laptop } })).json(), { ended: 1 })
  t.equal((await recipeApp.inject({ url: '/me', headers: { cookie: tablet } })).statusCode, 401)
  t.equal((await recipeApp.inject({ method: 'POST', url: '/admin/users/1/sign-out' })).statusCode, 403, 'anonymous: not an admin')
  t.equal((await recipeApp.inject({ method: 'POST', url: '/admin/users/1/sign-out', headers: { cookie: laptop } })).statusCode, 403, 'bob is no admin')
  const admin = await loginFrom(recipeApp, { ua: 'admin' }, 'root', 'admin pw')
  t.same((await recipeApp.inject({ method: 'POST', url: '/admin/users/1/sign-out', headers: { cookie: admin } })).json(), { ended: 1 })
  t.equal((await recipeApp.inject({ url: '/me', headers: { cookie: laptop } })).statusCode, 401)
  t.same(audit.filter(entry => entry.userId === 1).map(entry => entry.reason), ['ended', 'ended-others', 'ended-all'])
  t.equal(audit[0]?.loginId, phoneId)
  t.equal((await recipeApp.inject({ url: '/account/logins' })).statusCode, 401, 'anonymous: 401')

  assertReadmeShowsRecipe(t, __filename, 'logins')
})
