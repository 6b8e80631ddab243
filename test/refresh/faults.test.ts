import t from 'tap'
import fc from 'fast-check'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import type { LoginStore } from '../../lib/login-store/contract'
import { TestUsers, hashOf } from '../helper'
import { countingStore, loginPair, me, refreshApp, refreshWith, REFRESH_PATH } from './kit'

async function users (): Promise<TestUsers> {
  const store = new TestUsers()
  store.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  return store
}

t.test('a successful refresh costs two login store round trips: the read and the swap', async t => {
  const counted = countingStore(createMemoryLoginStore())
  const app = await refreshApp(t, { loginStore: counted.store, users: await users() })
  let pair = await loginPair(app)
  for (let i = 0; i < 3; i++) {
    counted.reset()
    const renewed = await refreshWith(app, pair.refreshToken)
    t.equal(renewed.statusCode, 200)
    t.same(counted.calls, { get: 1, swap: 1 }, `refresh ${i + 1}: one get, one swap, nothing else`)
    pair = renewed.pair as typeof pair
  }
  counted.reset()
  await refreshWith(app, `${pair.refreshToken.split('.')[0] as string}.${'A'.repeat(43)}`)
  t.same(counted.calls, { get: 1 }, 'a forged token costs one read')
  counted.reset()
  await refreshWith(app, 'not a token')
  t.equal(counted.total(), 0, 'a malformed token costs nothing')
})

/** The memory store with one method failing (rejecting) while `broken` says so. */
function faulty (method: 'get' | 'swap'): { store: LoginStore, broken: { on: boolean } } {
  const inner = createMemoryLoginStore()
  const broken = { on: false }
  const store: LoginStore = Object.create(inner)
  store[method] = (async (...args: unknown[]) => {
    if (broken.on) throw new Error('connection reset by peer')
    return await (inner[method] as (...a: unknown[]) => Promise<unknown>)(...args)
  }) as never
  return { store, broken }
}

for (const method of ['get', 'swap'] as const) {
  t.test(`a login store whose ${method} fails answers 503, tells nothing of the store, and spends nothing`, async t => {
    const { store, broken } = faulty(method)
    const reuses: unknown[] = []
    const app = await refreshApp(t, { loginStore: store, users: await users(), reuses: reuses as never })
    const pair = await loginPair(app)
    broken.on = true
    const failed = await app.inject({ method: 'POST', url: REFRESH_PATH, payload: { refreshToken: pair.refreshToken } })
    t.equal(failed.statusCode, 503)
    t.equal(failed.json().code, 'FST_AUTH_STORE_ERROR')
    t.notMatch(failed.body, /connection reset/)
    broken.on = false
    t.equal((await refreshWith(app, pair.refreshToken)).statusCode, 200, 'the same token works once the store is back')
    t.same(reuses, [], 'and that was no reuse')
  })
}

t.test('a user store failure during a refresh is a 503 that spends nothing', async t => {
  const store = await users()
  const app = await refreshApp(t, { loginStore: createMemoryLoginStore(), users: store })
  const pair = await loginPair(app)
  store.failFindById = true
  t.equal((await refreshWith(app, pair.refreshToken)).code, 'FST_AUTH_USER_STORE_ERROR')
  store.failFindById = false
  t.equal((await refreshWith(app, pair.refreshToken)).statusCode, 200)
})

t.test('fuzz: no refresh token input gives anything but 401 FST_AUTH_INVALID_REFRESH_TOKEN, nor ends the login', async t => {
  const reuses: unknown[] = []
  const app = await refreshApp(t, { loginStore: createMemoryLoginStore(), users: await users(), reuses: reuses as never })
  const pair = await loginPair(app)
  const [sid, secret] = pair.refreshToken.split('.') as [string, string]
  const b64 = fc.stringMatching(/^[A-Za-z0-9_-]*$/)
  const input = fc.oneof(
    fc.string(), fc.string({ unit: 'binary' }), fc.integer(), fc.double(), fc.boolean(), fc.constant(null),
    fc.array(fc.string()), fc.dictionary(fc.string(), fc.string()),
    // Near misses of the real token: its sid with other secrets, its secret with other sids, one character changed.
    b64.map(s => `${sid}.${s}`), b64.map(s => `${s}.${secret}`),
    fc.tuple(fc.nat(pair.refreshToken.length - 1), fc.constantFrom(...'A-_.=+/ \u0000')).map(([i, c]) =>
      pair.refreshToken.slice(0, i) + c + pair.refreshToken.slice(i + 1)).filter(s => s !== pair.refreshToken),
    fc.constantFrom(pair.accessToken, `${pair.refreshToken}.`, ` ${pair.refreshToken}`, `${pair.refreshToken}\n`, `Bearer ${pair.refreshToken}`,
      pair.refreshToken.toUpperCase(), `${secret}.${sid}`, `${sid}.${secret}${secret}`)
  )
  await fc.assert(fc.asyncProperty(input, async value => {
    const response = await app.inject({ method: 'POST', url: REFRESH_PATH, payload: { refreshToken: value } })
    // A body with a `__proto__` key is refused by Fastify's JSON parser first (400), before any route runs.
    if (response.statusCode === 400) return JSON.stringify(value).includes('"__proto__"')
    return response.statusCode === 401 && response.json().code === 'FST_AUTH_INVALID_REFRESH_TOKEN'
  }), { numRuns: 400 })
  // As a raw body too: the route reads `body?.refreshToken` from whatever JSON arrives.
  await fc.assert(fc.asyncProperty(fc.json(), async body => {
    const response = await app.inject({ method: 'POST', url: REFRESH_PATH, headers: { 'content-type': 'application/json' }, payload: body })
    return response.statusCode === 401 || response.statusCode === 400
  }), { numRuns: 200 })
  t.same(reuses, [], 'no input looked like reuse')
  t.equal(await me(app, pair.accessToken), 200, 'the login is untouched')
  t.equal((await refreshWith(app, pair.refreshToken)).statusCode, 200, 'and its refresh token still works')
})
