import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { LoginStore } from '../../lib/login-store/contract'
import { TestUsers, hashOf } from '../helper'
import { loginPair, me, refreshApp, refreshWith, type ReuseEvent } from './kit'

const DAY = 86_400_000

export interface MatrixSetup {
  /** Two stores that see the same logins: one object twice (memory), or two clients of one Redis. */
  stores: (t: Test, now: () => number) => Promise<[LoginStore, LoginStore]>
}

interface World {
  a: FastifyInstance
  b: FastifyInstance
  users: TestUsers
  reuses: ReuseEvent[]
  clock: { now: number }
}

const INVALID = 'FST_AUTH_INVALID_REFRESH_TOKEN'

/**
 * Issue 16's matrix, on two app instances over one login store: every case refreshes on one instance and checks on
 * the other, so what holds here holds across instances.
 */
export function refreshMatrix (t: Test, setup: MatrixSetup): void {
  async function world (t: Test, refresh: Record<string, unknown> = {}, plugin: Record<string, unknown> = {}): Promise<World> {
    const clock = { now: Date.now() }
    const now = (): number => clock.now
    const [storeA, storeB] = await setup.stores(t, now)
    const users = new TestUsers()
    users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
    users.add({ id: 2, username: 'eve', password: await hashOf('pw2') })
    const reuses: ReuseEvent[] = []
    const common = { users, refresh, reuses, plugin: { now, ...plugin } }
    const a = await refreshApp(t, { ...common, loginStore: storeA })
    const b = await refreshApp(t, { ...common, loginStore: storeB })
    return { a, b, users, reuses, clock }
  }

  t.test('a refresh on B renews a login made on A: a new pair of the same login, the old token spent', async t => {
    const { a, b, reuses } = await world(t)
    const first = await loginPair(a)
    t.match(first.refreshToken, /^[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]{43}$/)
    const [loginsBefore] = await Promise.all([(await a.inject({ url: '/logins', headers: { authorization: `Bearer ${first.accessToken}` } })).json()])
    const renewed = await refreshWith(b, first.refreshToken)
    t.equal(renewed.statusCode, 200)
    t.equal((renewed.body.user as { id: number }).id, 1, 'request.user is the login\'s user')
    t.equal(renewed.body.same, true, 'request.issuedTokens() is the pair refresh() resolved to')
    const second = renewed.pair as { accessToken: string, refreshToken: string }
    t.not(second.accessToken, first.accessToken)
    t.not(second.refreshToken, first.refreshToken)
    t.equal(await me(a, second.accessToken), 200, 'the new access token works on the other instance')
    t.equal(await me(b, first.accessToken), 200, 'the old access token lives out its exp: it is the same login')
    const logins = (await a.inject({ url: '/logins', headers: { authorization: `Bearer ${second.accessToken}` } })).json()
    t.equal(logins.length, 1, 'one login for the whole family')
    t.equal(logins[0].id, loginsBefore[0].id, 'the same login id before and after the refresh')
    t.equal(logins[0].backend, 'jwt')
    t.equal(logins[0].current, true)
    const third = await refreshWith(a, second.refreshToken)
    t.equal(third.statusCode, 200, 'the new refresh token works once more')
    t.same(reuses, [])
  })

  t.test('a spent token presented again ends the whole family on every instance, fires onReuse, answers 401', async t => {
    const ended: Array<{ loginId: string, reason: string }> = []
    const { a, b, reuses } = await world(t, {}, { onLoginEnded: ({ loginId, reason }: { loginId: string, reason: string }) => { ended.push({ loginId, reason }) } })
    const first = await loginPair(a)
    const logins = (await a.inject({ url: '/logins', headers: { authorization: `Bearer ${first.accessToken}` } })).json()
    const second = (await refreshWith(a, first.refreshToken)).pair as { accessToken: string, refreshToken: string }
    const replay = await refreshWith(b, first.refreshToken)
    t.equal(replay.statusCode, 401)
    t.equal(replay.code, INVALID)
    t.same(reuses, [{ userId: 1, loginId: logins[0].id, enumerableRequest: false }], 'one event, naming the login')
    t.same(ended, [{ loginId: logins[0].id, reason: 'reused' }], 'onLoginEnded says why: a reuse, not a logout')
    for (const app of [a, b]) {
      t.equal(await me(app, second.accessToken), 401, 'the access token of the thief (or the client) is dead at once')
      t.equal(await me(app, first.accessToken), 401, 'so is every older one')
    }
    const after = await refreshWith(a, second.refreshToken)
    t.equal(after.code, INVALID, 'the current refresh token of the family is dead too')
    t.equal(reuses.length, 1, 'a refresh of an ended login is not another reuse')
    t.equal((await a.inject({ method: 'POST', url: '/end-logins', payload: { userId: 1 } })).json().ended, 0, 'no login is left')
  })

  t.test('a token that was never issued is a plain 401 that ends nothing, even with the victim\'s sid', async t => {
    const { a, b, reuses } = await world(t)
    const pair = await loginPair(a)
    const sid = pair.refreshToken.split('.')[0] as string
    const forged = `${sid}.${'A'.repeat(43)}`
    t.equal((await refreshWith(b, forged)).code, INVALID)
    t.equal((await refreshWith(b, `${'B'.repeat(22)}.${'A'.repeat(43)}`)).code, INVALID, 'an unknown sid')
    t.same(reuses, [])
    t.equal(await me(b, pair.accessToken), 200, 'the victim is still logged in')
    t.equal((await refreshWith(a, pair.refreshToken)).statusCode, 200, 'and can still refresh')
  })

  t.test('a refresh token is never an access token, nor an access token a refresh token', async t => {
    const { a, b } = await world(t)
    const pair = await loginPair(a)
    t.equal(await me(b, pair.refreshToken), 401, 'a refresh token as a Bearer token is anonymous')
    t.equal((await refreshWith(b, pair.accessToken)).code, INVALID, 'an access token is not a refresh token')
    t.equal((await refreshWith(b, pair.refreshToken)).statusCode, 200, 'and neither attempt spent or ended anything')
  })

  t.test('logout, endLogin, endLogins, a password change and a deactivation end the family', async t => {
    const { a, b, users } = await world(t)
    const cases: Array<[string, (pair: { accessToken: string, refreshToken: string }) => Promise<unknown>]> = [
      ['logout', async pair => await b.inject({ method: 'POST', url: '/logout', headers: { authorization: `Bearer ${pair.accessToken}` } })],
      ['endLogin', async pair => {
        const auth = { authorization: `Bearer ${pair.accessToken}` }
        const [login] = (await b.inject({ url: '/logins', headers: auth })).json()
        t.equal((await b.inject({ method: 'POST', url: '/end-login', headers: auth, payload: { id: login.id } })).json().ended, true)
      }],
      ['endLogins', async () => t.equal((await b.inject({ method: 'POST', url: '/end-logins', payload: { userId: 1 } })).json().ended, 1)],
      ['a password change', async () => { (users.byId.get(1) as { password: string }).password = await hashOf('new password') }],
      ['a deactivation', async () => { (users.byId.get(1) as { isActive: boolean }).isActive = false }]
    ]
    for (const [name, end] of cases) {
      const user = users.byId.get(1) as { password: unknown, isActive?: boolean }
      user.password = await hashOf('pw')
      user.isActive = true
      const pair = await loginPair(a)
      await end(pair)
      t.equal((await refreshWith(a, pair.refreshToken)).code, INVALID, `${name}: its refresh token is refused`)
      t.equal(await me(a, pair.accessToken), 401, `${name}: its access token too`)
    }
  })

  t.test('a refresh token left unused past jwt.refresh.expiresIn is refused; refreshing never passes the login\'s lifetime', async t => {
    const { a, b, clock } = await world(t, { expiresIn: '1d' }, { logins: { maxAge: 2.5 * DAY } })
    const idle = await loginPair(a)
    clock.now += DAY + 1
    t.equal((await refreshWith(b, idle.refreshToken)).code, INVALID, 'unused for longer than expiresIn')

    let pair = await loginPair(a)
    for (let day = 0; day < 2; day++) {
      clock.now += DAY - 60_000
      const renewed = await refreshWith(day % 2 === 0 ? b : a, pair.refreshToken)
      t.equal(renewed.statusCode, 200, `day ${day + 1}: refreshed within expiresIn and the login's lifetime`)
      pair = renewed.pair as typeof pair
    }
    // 3 days less 3 minutes after the login: within the token's expiresIn, past the login's 2.5 days.
    clock.now += DAY - 60_000
    t.equal((await refreshWith(a, pair.refreshToken)).code, INVALID, 'past logins.maxAge from the login, however often refreshed')
    t.equal(await me(b, pair.accessToken), 401, 'and its access token with it')
  })

  t.test('a login that re-logs in on its own token (a renewal) moves the family: the old refresh token dies', async t => {
    const { a, b } = await world(t)
    const first = await loginPair(a)
    const renewed = await b.inject({ method: 'POST', url: '/login-id', headers: { authorization: `Bearer ${first.accessToken}` }, payload: { userId: 1 } })
    t.equal(renewed.statusCode, 200)
    t.equal((await refreshWith(a, first.refreshToken)).code, INVALID)
  })
}
