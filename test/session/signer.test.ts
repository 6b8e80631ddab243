// The signer the plugin gives @fastify/session (lib/session/signer.ts): @fastify/cookie's, with the signatures it has checked
// remembered. It must answer exactly what @fastify/cookie's signer answers, for every input, and skip the HMAC only
// for a cookie string it has already found valid.
import t from 'tap'
import crypto from 'node:crypto'
import fc from 'fast-check'
import fastifySession from '@fastify/session'
import { Signer } from '@fastify/cookie'
import { cachingSigner } from '../../lib/session/signer'
import { SECRET, TestUsers, build, hashOf, loginAs } from '../helper'

const OLD_SECRET = 'an-older-secret-that-is-32-chars-long!'

/** Counts the HMACs computed from now on, and what each was of: @fastify/cookie's signer calls crypto.createHmac. */
function hmacs (t: tap.Test): { count: () => number, of: string[] } {
  let count = 0
  const of: string[] = []
  const createHmac = crypto.createHmac
  t.teardown(() => { crypto.createHmac = createHmac })
  crypto.createHmac = ((...args: Parameters<typeof createHmac>) => {
    count++
    const hmac = createHmac(...args)
    const update = hmac.update.bind(hmac)
    hmac.update = ((data: string) => { of.push(String(data)); return update(data) }) as typeof hmac.update
    return hmac
  }) as typeof createHmac
  return { count: () => count, of }
}

t.test('answers what @fastify/cookie\'s signer answers, for any value and any tampering, cached or not', async t => {
  const secrets = [SECRET, [SECRET, OLD_SECRET], [OLD_SECRET, SECRET], Buffer.from(SECRET)]
  for (const secret of secrets) {
    const plain = new Signer(secret as string)
    const cached = cachingSigner(secret, undefined, 4)
    const old = new Signer(OLD_SECRET)
    fc.assert(fc.property(fc.string(), fc.string(), fc.nat(80), (value, junk, at) => {
      const signed = plain.sign(value)
      t.equal(cached.sign(value), signed)
      const inputs = [signed, old.sign(value), signed.slice(0, at) + junk + signed.slice(at), junk, `${signed}${junk}`]
      // Twice each: the second answer may come from the cache and must be the same.
      for (const input of [...inputs, ...inputs]) {
        if (JSON.stringify(cached.unsign(input)) !== JSON.stringify(plain.unsign(input))) return false
      }
      return cached.sign(value) === signed
    }), { numRuns: 200 })
  }
})

t.test('a cookie checked once costs no HMAC again; made-up and tampered ones always do', async t => {
  const signer = cachingSigner(SECRET, undefined, 100)
  const reference = new Signer(SECRET)
  const valid = reference.sign('session-id')
  const counter = hmacs(t)
  t.same(signer.unsign(valid), { valid: true, renew: false, value: 'session-id' })
  t.equal(counter.count(), 1, 'the first check computes the HMAC')
  for (let i = 0; i < 5; i++) t.same(signer.unsign(valid), { valid: true, renew: false, value: 'session-id' })
  t.equal(counter.count(), 1, 'the next ones do not')
  t.equal(signer.sign('session-id'), valid, 'signing the id it checked gives the same cookie')
  t.equal(counter.count(), 1, 'without an HMAC')

  const tampered = valid.slice(0, -1) + (valid.endsWith('A') ? 'B' : 'A')
  for (let i = 0; i < 3; i++) t.same(signer.unsign(tampered), { valid: false, renew: false, value: null })
  t.equal(counter.count(), 4, 'a bad signature is checked every time: it is never remembered')
  t.equal(signer.sign('new-id'), reference.sign('new-id'))
  t.equal(signer.sign('new-id'), reference.sign('new-id'))
  t.equal(counter.count(), 8, 'a new session\'s id is signed every time (2 here, 2 by the reference): visitors do not fill the cache')
  t.throws(() => signer.sign(42 as never), TypeError, 'a value that is not a string is refused as @fastify/cookie refuses it')
  t.throws(() => signer.unsign(undefined as never), TypeError)
})

t.test('a cookie signed with an older secret of a rotation is valid and asks for renewal, and is never signed again', async t => {
  const signer = cachingSigner([SECRET, OLD_SECRET], 'sha256', 100)
  const old = new Signer(OLD_SECRET).sign('session-id')
  t.same(signer.unsign(old), { valid: true, renew: true, value: 'session-id' })
  t.same(signer.unsign(old), { valid: true, renew: true, value: 'session-id' }, 'cached, still asking for renewal')
  t.equal(signer.sign('session-id'), new Signer(SECRET).sign('session-id'), 'the id is signed with the first secret')
})

t.test('the cache is bounded and cacheSize 0 turns it off', async t => {
  const reference = new Signer(SECRET)
  const small = cachingSigner(SECRET, undefined, 2)
  const cookies = ['a', 'b', 'c'].map(id => reference.sign(id))
  const counter = hmacs(t)
  for (const cookie of [...cookies, ...cookies]) t.equal(small.unsign(cookie).valid, true)
  t.equal(counter.count(), 6, 'three cookies in turn through a cache of two: each was evicted before its turn came again')
  const off = cachingSigner(SECRET, undefined, 0)
  t.ok(off instanceof Signer, 'size 0 is @fastify/cookie\'s signer itself')
})

t.test('the plugin checks a session cookie\'s signature once, and a cookie that fails is anonymous however often sent', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users })
  const cookie = await loginAs(app, 'ann', 'pw')
  const counter = hmacs(t)
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/me', headers: { cookie } })).json().user.username, 'ann')
  t.equal(counter.count(), 1, 'the cookie login set is checked on its first use only')
  const value = decodeURIComponent(cookie.slice('sessionId='.length))
  const forged = `sessionId=${encodeURIComponent(value.slice(0, -2) + (value.endsWith('AA') ? 'BB' : 'AA'))}`
  for (let i = 0; i < 3; i++) t.same((await app.inject({ url: '/whoami', headers: { cookie: forged } })).json(), { user: null, id: null })
  // Two HMACs per forged request: its signature is checked, and the new, unsaved session it gets instead has its id signed.
  t.equal(counter.count(), 1 + 3 * 2, 'each forged cookie was checked')
})

t.test('session.cacheSize is validated, and a Buffer secret and a rotation work through the plugin', async t => {
  for (const cacheSize of [-1, 1.5, '10', null]) {
    await t.rejects(build(t, { plugin: { session: { secret: SECRET, cacheSize } } }), { code: 'FST_AUTH_INVALID_OPTION', message: /session\.cacheSize/ })
  }
  await t.rejects(build(t, { plugin: { session: { secret: [] } } }), { code: 'FST_AUTH_INVALID_OPTION', message: /empty array/ })

  for (const secret of [Buffer.from(SECRET), [SECRET, OLD_SECRET]]) {
    const users = new TestUsers()
    users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
    const { app } = await build(t, {
      users,
      plugin: { authHashSecret: SECRET, session: { secret, cookie: { secure: false }, store: new fastifySession.MemoryStore() } }
    })
    const cookie = await loginAs(app, 'ann', 'pw')
    t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200, Buffer.isBuffer(secret) ? 'a Buffer secret' : 'a rotation')
  }
})

t.test('rotating the secret: a cookie signed with the old one works while the old secret is listed, and not after', async t => {
  const store = new fastifySession.MemoryStore()
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const before = await build(t, { users, plugin: { authHashSecret: SECRET, session: { secret: OLD_SECRET, cookie: { secure: false }, store } } })
  const cookie = await loginAs(before.app, 'ann', 'pw')
  const after = await build(t, { users, plugin: { authHashSecret: SECRET, session: { secret: [SECRET, OLD_SECRET], cookie: { secure: false }, store } } })
  const response = await after.app.inject({ url: '/me', headers: { cookie } })
  t.equal(response.json().user.username, 'ann')
  const dropped = await build(t, { users, plugin: { authHashSecret: SECRET, session: { secret: SECRET, cookie: { secure: false }, store } } })
  t.same((await dropped.app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null },
    'once the old secret is gone, its cookies are anonymous, however often they were checked before')
})

t.test('logout forgets the cookie it ended: the cache keeps nothing of a finished login', async t => {
  const signer = cachingSigner(SECRET, undefined, 100)
  const cookie = new Signer(SECRET).sign('session-id')
  signer.unsign(cookie)
  signer.forget('session-id')
  signer.forget('never-seen')
  const counter = hmacs(t)
  t.same(signer.unsign(cookie), { valid: true, renew: false, value: 'session-id' })
  t.equal(counter.count(), 1, 'a forgotten cookie is checked in full again')

  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users })
  const ann = await loginAs(app, 'ann', 'pw')
  const id = decodeURIComponent(ann.slice('sessionId='.length)).split('.')[0]!
  t.equal((await app.inject({ url: '/me', headers: { cookie: ann } })).statusCode, 200)
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie: ann } })).statusCode, 200)
  counter.of.length = 0
  t.same((await app.inject({ url: '/whoami', headers: { cookie: ann } })).json(), { user: null, id: null })
  t.ok(counter.of.includes(id), 'after logout the old cookie is checked again: its entry is gone')
  counter.of.length = 0
  await app.inject({ url: '/whoami', headers: { cookie: ann } })
  t.ok(counter.of.includes(id), 'and, naming no session, it is not remembered however often it comes back')

  const again = await loginAs(app, 'ann', 'pw')
  t.equal((await app.inject({ url: '/me', headers: { cookie: again } })).statusCode, 200)
  const relogin = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' }, headers: { cookie: again } })
  t.equal(relogin.statusCode, 200)
  counter.of.length = 0
  await app.inject({ url: '/whoami', headers: { cookie: again } })
  t.ok(counter.of.includes(decodeURIComponent(again.slice('sessionId='.length)).split('.')[0]!),
    'a login over a session forgets the cookie it replaced')
})

t.test('with the cache off, forgetting is a no-op and every check computes the HMAC', async t => {
  const signer = cachingSigner(SECRET, undefined, 0)
  const cookie = new Signer(SECRET).sign('session-id')
  const counter = hmacs(t)
  signer.unsign(cookie)
  signer.forget('session-id')
  signer.unsign(cookie)
  t.equal(counter.count(), 2)
})

t.test('an app\'s own signer object is used as it is, uncached', async t => {
  const inner = new Signer(SECRET)
  let checks = 0
  const own = { sign: (value: string) => inner.sign(value), unsign: (input: string) => { checks++; return inner.unsign(input) } }
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users, plugin: { authHashSecret: SECRET, session: { secret: own, cookie: { secure: false } } } })
  const cookie = await loginAs(app, 'ann', 'pw')
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200)
  t.equal(checks, 3, 'its unsign ran on every request')
})

t.test('session.cacheSize: 0 through the plugin: every request checks its cookie, logins and logouts work alike', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const { app } = await build(t, { users, plugin: { session: { secret: SECRET, cookie: { secure: false }, cacheSize: 0 } } })
  const cookie = await loginAs(app, 'ann', 'pw')
  const counter = hmacs(t)
  for (let i = 0; i < 3; i++) t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 200)
  t.equal(counter.count(), 3, 'one HMAC per request: nothing remembered')
  t.equal((await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
  t.same((await app.inject({ url: '/whoami', headers: { cookie } })).json(), { user: null, id: null })
})

t.test('with the cache off, a value that is not a string is refused as @fastify/cookie\'s signer refuses it', async t => {
  const off = cachingSigner(SECRET, undefined, 0)
  const plain = new Signer(SECRET)
  t.throws(() => plain.unsign(5 as never), TypeError)
  t.throws(() => off.unsign(5 as never), TypeError)
  const signed = plain.sign('abc')
  t.same(off.prime(signed), plain.unsign(signed), 'prime answers as the signer does')
  t.same(off.unsign(signed), plain.unsign(signed), 'and the next unsign of it gets the same answer')
})
