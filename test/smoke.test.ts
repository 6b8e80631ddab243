import t from 'tap'
import { build, hashOf, loginAs } from './helper'

t.test('a user logs in, is seen, and logs out', async t => {
  const { app, users } = await build(t)
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const cookie = await loginAs(app, 'bob', 'pw')
  const me = await app.inject({ url: '/me', headers: { cookie } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.username, 'bob')
})
