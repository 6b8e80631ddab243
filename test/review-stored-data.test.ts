import t from 'tap'
import { build, cookieFrom, type TestUser } from './helper'
import { JWT_SECRET, bearer } from './jwt-helper'

// Review: what the plugin does with what the app's user store gives back. A login names a user id; the user
// store answers for it. Users without a password (signed in by link or single sign-on) all have the same auth hash,
// so for them the id is all that ties a login to its user.

t.test('a user store that answers for an id with another user does not log that user in', async t => {
  const rows: TestUser[] = [
    { id: 1, username: 'the-admin' },
    { id: 5, username: 'a-customer' }
  ]
  // A common bug: a lookup that matches nothing falls back to the first row (Mongoose's findOne({ _id: undefined })
  // is findOne({})). The first row is usually the oldest account: the admin's.
  const users = {
    findByUsername: async (username: string) => rows.find(row => row.username === username),
    findById: async (id: unknown) => rows.find(row => row.id === Number(id)) ?? rows[0]
  }
  // Not a TestUsers: `plugin.users` replaces build()'s store.
  const { app } = await build(t, {
    plugin: { users, jwt: { secret: JWT_SECRET } },
    extend: app => { app.post('/token', async request => ({ token: await request.login({ userId: 5, backend: 'jwt' }) })) }
  })

  const cookie = cookieFrom(await app.inject({ method: 'POST', url: '/login-id', payload: { userId: 5 } }))!
  const token = (await app.inject({ method: 'POST', url: '/token' })).json().token as string
  t.equal((await app.inject({ url: '/whoami', headers: { cookie } })).json().user.username, 'a-customer')
  t.equal((await app.inject({ url: '/whoami', headers: bearer(token) })).json().user.username, 'a-customer')

  rows.splice(1, 1) // the customer's account is deleted
  for (const [name, headers] of [['session', { cookie }], ['token', bearer(token)]] as const) {
    const response = await app.inject({ url: '/whoami', headers })
    t.equal(response.statusCode, 200, name)
    t.equal(response.json().user, null, `${name}: the deleted customer's login is nobody, not the admin`)
  }
})
