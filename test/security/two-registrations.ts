import type { Test } from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import type { LoginStore } from '../../lib/login-store/contract'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes } from '../helper'

// Two registrations of the plugin as docs/registering.md describes them (customers under /shop, staff under /admin,
// each with its own users, auth hash key and cookie or JWT secret) on one login store, each with a user 3. Used by
// test/security/registrations-index.test.ts (memory stores) and test/redis/registrations-index.test.ts (Redis).

export type Area = 'shop' | 'admin'
const AREAS: readonly Area[] = ['shop', 'admin']

/** Where the logins of both areas are kept: one login store, behind the JWT backend or each area's own session cookie. */
export interface Setup { backend: 'jwt' | 'session', store: () => LoginStore }

export interface TwoAreas {
  app: FastifyInstance
  /** Each area's registration context, whose `endLogins` / `listLogins` an admin page calls. */
  areas: Record<Area, FastifyInstance>
  /** A new login of the area's user 3: the headers that carry it. */
  signIn (area: Area): Promise<Record<string, string>>
}

function areaOptions (area: Area, setup: Setup): Record<string, unknown> {
  const authHashSecret = `an-auth-hash-secret-of-the-${area}-area-32+`
  const common = { authHashSecret }
  if (setup.backend === 'jwt') return { ...common, defaultBackend: 'jwt', jwt: { secret: `a-jwt-secret-of-the-${area}-area-32-chars+` } }
  return { ...common, session: { secret: `${SECRET}-${area}`, cookieName: `${area}Session`, cookie: { secure: false } } }
}

/** One app, one store, two areas; `store` is called once, so both areas share what it returns. */
export async function twoAreas (t: Pick<Test, 'teardown'>, setup: Setup): Promise<TwoAreas> {
  const loginStore = setup.store()
  const app = Fastify()
  t.teardown(() => app.close())
  const areas = {} as Record<Area, FastifyInstance>
  for (const area of AREAS) {
    const users = new TestUsers()
    users.add({ id: 3, username: `${area}-user-3` })
    app.register(async child => {
      const options = areaOptions(area, setup)
      await child.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, ...options, loginStore } as never)
      addRoutes(child)
      child.post('/sign-in', async request => ({ token: await request.login({ userId: 3 }) ?? null }))
      child.get('/logins', async request => await request.listLogins())
      child.post('/end-others', async request => ({ ended: await request.endOtherLogins() }))
      child.post('/end/:id', async request => ({ ended: await request.endLogin((request.params as { id: string }).id) }))
      areas[area] = child
    }, { prefix: `/${area}` })
  }
  await app.ready()
  return {
    app,
    areas,
    async signIn (area) {
      const response = await app.inject({ method: 'POST', url: `/${area}/sign-in` })
      if (response.statusCode !== 200) throw new Error(`sign-in failed: ${response.statusCode} ${response.body}`)
      const { token } = response.json() as { token: string | null }
      if (token !== null) return { authorization: `Bearer ${token}` }
      const cookie = response.cookies.find(c => c.name === `${area}Session`)
      if (cookie === undefined) throw new Error('no session cookie')
      return { cookie: `${cookie.name}=${cookie.value}` }
    }
  }
}

/**
 * The attack: a customer 3 lists, ends one by one, ends the others of, and has the admin page end, logins of user 3,
 * while staff member 3 holds two logins. Not one staff login may be seen or ended from /shop, and the other way round.
 */
export async function attackOtherAreasLogins (t: Test, setup: Setup): Promise<void> {
  const { app, areas, signIn } = await twoAreas(t, setup)
  const me = async (area: Area, headers: Record<string, string>): Promise<number> =>
    (await app.inject({ url: `/${area}/me`, headers })).statusCode
  const listed = async (area: Area, headers: Record<string, string>): Promise<string[]> => {
    const response = await app.inject({ url: `/${area}/logins`, headers })
    t.equal(response.statusCode, 200, `${area} lists`)
    return (response.json() as Array<{ id: string }>).map(login => login.id).sort()
  }
  const staff = [await signIn('admin'), await signIn('admin')] as const
  const customer = [await signIn('shop'), await signIn('shop')] as const
  const staffIds = await listed('admin', staff[0])
  const customerIds = await listed('shop', customer[0])
  t.equal(staffIds.length, 2, 'staff member 3 sees their two logins')
  t.equal(customerIds.length, 2, 'customer 3 sees their two logins, and not staff member 3\'s')
  t.same(customerIds.filter(id => staffIds.includes(id)), [], 'no login is listed in both areas')
  t.same((await areas.shop.listLogins(3)).map(login => login.id).sort(), customerIds, 'the shop\'s app.listLogins(3)')
  t.same((await areas.admin.listLogins(3)).map(login => login.id).sort(), staffIds, 'the admin area\'s app.listLogins(3)')

  for (const id of staffIds) {
    const ended = await app.inject({ method: 'POST', url: `/shop/end/${id}`, headers: customer[0] })
    t.same(ended.json(), { ended: false }, 'a customer cannot end a staff login by its id')
  }
  t.same(await listed('admin', staff[0]), staffIds, 'and both staff logins are still listed')

  const others = await app.inject({ method: 'POST', url: '/shop/end-others', headers: customer[0] })
  t.same(others.json(), { ended: 1 }, 'a customer\'s "sign out my other devices" ends their one other login')
  t.equal(await me('shop', customer[1]), 401, 'which no longer works')
  for (const headers of staff) t.equal(await me('admin', headers), 200, 'and no staff login')

  t.equal(await areas.shop.endLogins(3), 1, 'the shop\'s app.endLogins(3) ends customer 3\'s last login')
  t.equal(await me('shop', customer[0]), 401)
  for (const headers of staff) t.equal(await me('admin', headers), 200, 'and not staff member 3\'s')
  t.same(await listed('admin', staff[0]), staffIds, 'whose listing is whole')

  const customerAgain = await signIn('shop')
  t.same((await app.inject({ method: 'POST', url: '/admin/end-others', headers: staff[0] })).json(), { ended: 1 },
    'staff member 3\'s "sign out my other devices" ends their own other login only')
  t.equal(await areas.admin.endLogins(3), 1, 'and the admin area\'s app.endLogins(3) their last')
  t.equal(await me('shop', customerAgain), 200, 'the customer\'s new login survives both')
  t.equal((await listed('shop', customerAgain)).length, 1, 'and is still listed')
}
