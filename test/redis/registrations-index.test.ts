// Issue 21, item 2 on real Redis: two registrations (docs/registering.md) on one createRedisLoginStore never list or
// end each other's user 3, and each index lives under a key of its registration's own.
import t from 'tap'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import { attackOtherAreasLogins, twoAreas } from '../security/two-registrations'
import { cleanUp, connectClient, keysUnder, testPrefix } from './app'
import { redisFor, redisSkipReason } from './server'

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

for (const backend of ['jwt', 'session'] as const) {
  t.test(`two registrations on one createRedisLoginStore (${backend}): customer 3 never sees or ends staff member 3's logins`, { skip }, async t => {
    const prefix = testPrefix()
    const { client } = await connectClient(t, url)
    cleanUp(t, client, prefix)
    await attackOtherAreasLogins(t, { backend, store: () => createRedisLoginStore(client as never, { prefix }) })
    const indexes = (await keysUnder(client, `${prefix}auth-user:`)).map(key => key.slice(prefix.length))
    t.equal(indexes.length, 1, 'one index is left (the customer\'s last login)')
    t.match(indexes[0], /^auth-user:[\w-]{16}:3$/, 'under a key of its registration\'s own, not the bare user id')
  })
}

t.test('two instances of one app on one Redis share each registration\'s index: one lists and ends the other\'s logins', { skip }, async t => {
  const prefix = testPrefix()
  const { client } = await connectClient(t, url)
  cleanUp(t, client, prefix)
  const setup = { backend: 'jwt' as const, store: () => createRedisLoginStore(client as never, { prefix }) }
  const [one, two] = [await twoAreas(t, setup), await twoAreas(t, setup)]
  const staff = await one.signIn('admin')
  const customer = await one.signIn('shop')
  t.equal((await two.areas.admin.listLogins(3)).length, 1, 'the staff login made on instance one is listed on instance two')
  t.equal(await two.areas.admin.endLogins(3), 1, 'and ended there')
  t.equal((await one.app.inject({ url: '/admin/me', headers: staff })).statusCode, 401, 'on every instance')
  t.equal((await one.app.inject({ url: '/shop/me', headers: customer })).statusCode, 200, 'the customer\'s login lives on')
})
