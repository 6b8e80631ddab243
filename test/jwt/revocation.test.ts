import t from 'tap'
import { hashOf } from '../helper'
import { bearer, buildJwt, claimsLike, decodeSegment, forge, tokenFor, whoami } from './helper'

interface Claims { jti: string, exp: number, _auth_user_id: number }

/** The revocation recipe of the README, over a Map standing in for a shared store. */
function revocationStore () {
  const revoked = new Map<string, number>()
  const calls = { revoke: [] as Claims[], isRevoked: 0 }
  return {
    revoked,
    calls,
    revoke: async (claims: Claims) => { calls.revoke.push(claims); revoked.set(claims.jti, claims.exp) },
    isRevoked: async (claims: Claims) => { calls.isRevoked++; return revoked.has(claims.jti) }
  }
}

for (const cacheSize of [1000, 0]) {
  t.test(`with revoke and isRevoked, logout is final (verification cache ${cacheSize === 0 ? 'off' : 'on'})`, async t => {
    const store = revocationStore()
    const { app } = await buildJwt(t, { revoke: store.revoke, isRevoked: store.isRevoked, cacheSize })
    const token = await tokenFor(app)
    const other = await tokenFor(app)
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'a second time, from the cache when it is on')
    const logout = await app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
    t.same(logout.json(), { user: null })
    t.equal(store.calls.revoke.length, 1)
    t.equal(store.calls.revoke[0]?.jti, decodeSegment(token, 1).jti, 'revoke gets the verified claims')
    t.ok(Object.isFrozen(store.calls.revoke[0]))
    t.same(await whoami(app, bearer(token)), { status: 200, id: null }, 'the revoked token is anonymous')
    t.same(await whoami(app, bearer(other)), { status: 200, id: 1 }, 'other tokens of the user live on')
    const revokes = store.calls.revoke.length
    t.same((await app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })).json(), { user: null })
    t.equal(store.calls.revoke.length, revokes, 'a revoked token is not revoked again')
  })
}

t.test('a password change ends a token even from the verification cache', async t => {
  const { app, users } = await buildJwt(t, { cacheSize: 10 })
  const token = await tokenFor(app)
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
  users.byId.get(1)!.password = await hashOf('changed')
  t.same(await whoami(app, bearer(token)), { status: 200, id: null })
})

t.test('a stale token (user gone or password changed) is revoked once, then stopped by isRevoked', async t => {
  const store = revocationStore()
  const { app, users } = await buildJwt(t, { revoke: store.revoke, isRevoked: store.isRevoked })
  const token = await tokenFor(app)
  users.byId.get(1)!.isActive = false
  t.same(await whoami(app, bearer(token)), { status: 200, id: null })
  t.equal(store.calls.revoke.length, 1)
  const lookups = users.calls.findById
  users.byId.get(1)!.isActive = true
  t.same(await whoami(app, bearer(token)), { status: 200, id: null }, 'reactivating the user does not revive it')
  t.equal(users.calls.findById, lookups, 'a revoked token costs no user lookup')
})

t.test('only verified claims reach the hooks: a forged token cannot get a jti revoked', async t => {
  const store = revocationStore()
  const { app } = await buildJwt(t, { revoke: store.revoke, isRevoked: store.isRevoked })
  const token = await tokenFor(app)
  const victimJti = decodeSegment(token, 1).jti
  const forged = forge({ alg: 'HS256', typ: 'JWT' }, claimsLike(token, { jti: victimJti }), 'HS256', 'not-the-secret-but-long-enough-to-look-real')
  const response = await app.inject({ method: 'POST', url: '/logout', headers: bearer(forged) })
  t.equal(response.statusCode, 200)
  t.equal(store.calls.revoke.length, 0)
  t.equal(store.calls.isRevoked, 0, 'isRevoked is only asked about tokens that verified')
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
})

t.test('isRevoked may answer synchronously', async t => {
  const revoked = new Set<string>()
  const { app } = await buildJwt(t, {
    revoke: (claims: Claims) => { revoked.add(claims.jti) },
    isRevoked: (claims: Claims) => revoked.has(claims.jti)
  })
  const token = await tokenFor(app)
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
  await app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
  t.same(await whoami(app, bearer(token)), { status: 200, id: null })
})

t.test('isRevoked alone can end tokens by other rules, such as "issued before"', async t => {
  let notBefore = 0
  const { app } = await buildJwt(t, { isRevoked: (claims: Claims & { iat: number }) => claims.iat < notBefore })
  const token = await tokenFor(app)
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
  notBefore = decodeSegment(token, 1).iat as number + 1
  t.same(await whoami(app, bearer(token)), { status: 200, id: null })
})

t.test('a failing revocation hook fails the request with 503 FST_AUTH_REVOCATION_FAILED (fail closed)', async t => {
  const cases: Array<[string, (claims: Claims) => unknown]> = [
    ['throws', () => { throw new Error('store down') }],
    ['rejects', async () => { throw new Error('store down') }],
    ['hangs', () => new Promise(() => {})],
    ['answers undefined', () => undefined],
    ['answers a number', async () => 1]
  ]
  for (const [name, isRevoked] of cases) {
    const { app } = await buildJwt(t, { isRevoked, storeTimeout: 50 })
    const token = await tokenFor(app)
    for (const url of ['/whoami', '/me']) {
      const response = await app.inject({ url, headers: bearer(token) })
      t.equal(response.statusCode, 503, `isRevoked ${name}: ${url}`)
      t.equal(response.json().code, 'FST_AUTH_REVOCATION_FAILED', `isRevoked ${name}`)
      t.notMatch(response.body, /store down/, 'the hook\'s own message stays in the log')
    }
    t.equal((await app.inject({ url: '/whoami' })).statusCode, 200, 'requests without a token are not affected')
  }
})

t.test('a failing revoke fails the logout, and the token is not treated as revoked', async t => {
  for (const revoke of [async () => { throw new Error('store down') }, () => new Promise(() => {})]) {
    const { app } = await buildJwt(t, { revoke, isRevoked: async () => false, storeTimeout: 50 })
    const token = await tokenFor(app)
    const logout = await app.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
    t.equal(logout.statusCode, 503)
    t.equal(logout.json().code, 'FST_AUTH_REVOCATION_FAILED')
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the client learns its logout failed')
  }
})

t.test('a hook that writes to the claims cannot change the user, nor what the verification cache holds', async t => {
  const throwing = await buildJwt(t, {
    isRevoked: (claims: Record<string, unknown>) => { claims._auth_user_id = 2; return false }
  })
  const response = await throwing.app.inject({ url: '/whoami', headers: bearer(await tokenFor(throwing.app)) })
  t.equal(response.statusCode, 503, 'the claims are frozen: the write throws, and the request fails closed')

  const { app } = await buildJwt(t, {
    isRevoked: (claims: Record<string, unknown>) => {
      try { claims._auth_user_id = 2 } catch {}
      return false
    }
  })
  const token = await tokenFor(app)
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the next request, served from the cache, too')
})
