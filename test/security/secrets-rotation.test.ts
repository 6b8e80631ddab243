import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import { MemoryStore } from '@fastify/session'
import { RedisStore } from 'connect-redis'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, hashOf, loginAs } from '../helper'
import { JsonStore, setCookieHeaders } from './kit'
import { cleanUp, connectClient, testPrefix } from '../redis/app'
import { redisFor, redisSkipReason } from '../redis/server'

// SECURITY.md, "Secrets and their rotation": @fastify/session takes an array of secrets (the first signs, all
// verify), so the session secret can be rotated without ending sessions. The auth hash is keyed with
// `authHashSecret`, which defaults to a string session secret: a rotation must name it, and naming the secret that
// keyed it so far is what keeps every login; a new `authHashSecret` ends them all, on purpose.

const NEW_SECRET = 'a-brand-new-session-secret-of-32+-chars'
const AUTH_HASH_SECRET = 'an-auth-hash-secret-kept-apart-32+-chars'

interface Deploy {
  secret: string | string[]
  authHashSecret?: string
  cacheSize?: number
  secure?: boolean
  cookiePrefix?: string
}

async function instance (t: { teardown: (fn: () => unknown) => void }, users: TestUsers, store: object, deploy: Deploy): Promise<FastifyInstance> {
  const app = Fastify({ trustProxy: true })
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    session: {
      secret: deploy.secret,
      store,
      cookie: { secure: deploy.secure ?? false, maxAge: 3_600_000 },
      cacheSize: deploy.cacheSize,
      cookiePrefix: deploy.cookiePrefix
    },
    hashOptions: TEST_HASH_OPTIONS,
    // The plugin's clock follows Date.now, which passTime moves, as @fastify/session's cookie expiry does.
    now: () => Date.now(),
    ...(deploy.authHashSecret === undefined ? {} : { authHashSecret: deploy.authHashSecret })
  })
  addRoutes(app)
  app.get('/theme', async (request, reply) => {
    reply.setCookie('theme', 'dark')
    return { id: (request.user as { id?: number } | null)?.id ?? null }
  })
  app.post('/visit', async (request) => {
    const session = request.session as unknown as { visits?: number }
    session.visits = (session.visits ?? 0) + 1
    return { visits: session.visits }
  })
  await app.ready()
  return app
}

/**
 * Time passes by `ms` for the rest of the test, without waiting for it: Date.now (which @fastify/session reads for a
 * cookie's expiry, and the plugin's clock here) runs that far ahead until the test ends.
 */
function passTime (t: { teardown: (fn: () => unknown) => void }, ms: number): void {
  const realNow = Date.now
  Date.now = () => realNow() + ms
  t.teardown(() => { Date.now = realNow })
}

/** alice logs in on the `before` deploy; who is her cookie on the `after` deploy, sharing the store? */
async function acrossDeploys (t: { teardown: (fn: () => unknown) => void }, before: Deploy, after: Deploy): Promise<unknown> {
  const store = new MemoryStore()
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('pw') })
  const cookie = await loginAs(await instance(t, users, store, before), 'alice', 'pw')
  const next = await instance(t, users, store, after)
  const id = (await next.inject({ url: '/whoami', headers: { cookie } })).json().id
  await loginAs(next, 'alice', 'pw')
  return id
}

t.test('a rotation (an array of session secrets) without authHashSecret is refused at registration', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(auth, { users: new TestUsers(), session: { secret: [NEW_SECRET, SECRET] }, hashOptions: TEST_HASH_OPTIONS })
  await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /`session.secret` is an array/ })
})

t.test('the first rotation keeps every login when authHashSecret names the secret that keyed it so far', async t => {
  t.equal(await acrossDeploys(t, { secret: SECRET }, { secret: [NEW_SECRET, SECRET], authHashSecret: SECRET }), 1)
})

t.test('with authHashSecret set from the start, rotating the session secret keeps every login', async t => {
  const before = { secret: SECRET, authHashSecret: AUTH_HASH_SECRET }
  t.equal(await acrossDeploys(t, before, { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET }), 1)
  t.equal(await acrossDeploys(t, before, { secret: NEW_SECRET, authHashSecret: AUTH_HASH_SECRET }), null,
    'dropping the old session secret at once ends the old cookies: their signature no longer verifies')
})

t.test('a new authHashSecret ends every login: the switch to pull after a suspected leak', async t => {
  t.equal(await acrossDeploys(t, { secret: SECRET }, { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET }), null)
  t.equal(await acrossDeploys(t, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET }, { secret: SECRET, authHashSecret: `${AUTH_HASH_SECRET}-2` }), null)
})

// Issue 11, item 5: with connect-redis and `secret: [NEW, OLD]`, the first request carrying an OLD-signed cookie
// authenticated, but its response expired the cookie (@fastify/session signs the id anew with NEW, sees another
// string than the cookie, and with the plugin's `rolling: false` expires it instead of saving): a rotation logged
// everyone out. The test above used MemoryStore, which keeps the old signature with the session object and hid it.
// Every claim of the rotation is checked on each store: MemoryStore, a store that keeps JSON, and a real Redis.
const redisSkip = redisSkipReason()
let redisUrl = ''
if (redisSkip === false) t.before(async () => { redisUrl = await redisFor() })

const STORES: Array<[string, (t: tap.Test) => Promise<object>, string | false]> = [
  ['MemoryStore', async () => new MemoryStore(), false],
  ['a store that keeps JSON', async () => new JsonStore(), false],
  ['Redis (connect-redis)', async (t) => {
    const { client } = await connectClient(t, redisUrl)
    const prefix = testPrefix()
    cleanUp(t, client, prefix)
    return new RedisStore({ client, prefix })
  }, redisSkip]
]

function expiresOf (header: string | undefined): string | undefined {
  return /; Expires=([^;]+)/i.exec(header ?? '')?.[1]
}

for (const [name, makeStore, skip] of STORES) {
  for (const cacheSize of [undefined, 0]) {
    const cache = cacheSize === 0 ? ', without the signature cache' : ''
    t.test(`${name}${cache}: an OLD-signed cookie keeps its login through the rotation and comes back signed with NEW`, { skip }, async t => {
      const store = await makeStore(t)
      const users = new TestUsers()
      users.add({ id: 1, username: 'alice', password: await hashOf('pw') })
      const before = await instance(t, users, store, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET, cacheSize })
      const login = await before.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'pw' } })
      const oldCookie = cookieFrom(login) as string
      const rotating = await instance(t, users, store, { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET, cacheSize })
      // Past a second boundary, so that a renewed cookie given a new expiry (now plus maxAge) would show it.
      passTime(t, 1100)

      for (let request = 1; request <= 2; request++) {
        const response = await rotating.inject({ url: '/whoami', headers: { cookie: oldCookie } })
        t.equal(response.json().id, 1, `request ${request} with the OLD-signed cookie is alice`)
        const headers = setCookieHeaders(response)
        t.notOk(headers.some(header => /^sessionId=;/.test(header) || /Max-Age=0/i.test(header)), `request ${request}: the cookie is not expired`)
        const renewed = cookieFrom(response)
        t.ok(renewed !== undefined && renewed !== oldCookie, `request ${request}: the cookie comes back signed anew`)
        t.equal(expiresOf(headers[0]), expiresOf(setCookieHeaders(login)[0]), 'with the expiry login gave it, not a later one')
        const after = await instance(t, users, store, { secret: NEW_SECRET, authHashSecret: AUTH_HASH_SECRET, cacheSize })
        t.equal((await after.inject({ url: '/whoami', headers: { cookie: renewed as string } })).json().id, 1,
          'the renewed cookie works once the OLD secret is dropped: the rotation completes')
        t.equal((await after.inject({ url: '/whoami', headers: { cookie: oldCookie } })).json().id, null, 'the OLD-signed one does not')
        const again = await rotating.inject({ url: '/whoami', headers: { cookie: renewed as string } })
        t.equal(again.json().id, 1)
        t.same(setCookieHeaders(again), [], 'a NEW-signed cookie is left alone')
      }
      // A request that writes to the session saves it, and @fastify/session sets its cookie: signed with NEW too. (A
      // save moves the session's expiry: the lead's login lifetime work, issue 11 item 7, not checked here.)
      const renewed = cookieFrom(await rotating.inject({ url: '/whoami', headers: { cookie: oldCookie } })) as string
      const visit = await rotating.inject({ method: 'POST', url: '/visit', headers: { cookie: renewed } })
      t.equal(cookieFrom(visit) ?? renewed, renewed, 'a saved session keeps the NEW-signed cookie')
      const written = await rotating.inject({ method: 'POST', url: '/visit', headers: { cookie: oldCookie } })
      t.equal(cookieFrom(written), renewed, 'and an OLD-signed cookie of a saved session comes back signed with NEW')
    })
  }

  t.test(`${name}: logout and a new login with an OLD-signed cookie during a rotation`, { skip }, async t => {
    const store = await makeStore(t)
    const users = new TestUsers()
    users.add({ id: 1, username: 'alice', password: await hashOf('pw') })
    const before = await instance(t, users, store, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET })
    const oldCookie = await loginAs(before, 'alice', 'pw')
    const rotating = await instance(t, users, store, { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET })
    const logout = await rotating.inject({ method: 'POST', url: '/logout', headers: { cookie: oldCookie } })
    t.ok(setCookieHeaders(logout).some(header => /^sessionId=;.*Max-Age=0/i.test(header)), 'logout still expires the cookie')
    t.equal((await rotating.inject({ url: '/whoami', headers: { cookie: oldCookie } })).json().id, null, 'and ends the login')
    const relogin = await before.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'pw' } })
    const second = cookieFrom(relogin) as string
    const fresh = await rotating.inject({ method: 'POST', url: '/login', headers: { cookie: second }, payload: { username: 'alice', password: 'pw' } })
    const cookie = cookieFrom(fresh) as string
    t.not(cookie, second, 'a login under an OLD-signed cookie gives a new session, signed with NEW')
    const after = await instance(t, users, store, { secret: NEW_SECRET, authHashSecret: AUTH_HASH_SECRET })
    t.equal((await after.inject({ url: '/whoami', headers: { cookie } })).json().id, 1)
  })
}

t.test('the renewed cookie goes out beside the response\'s other cookies; a prefix and Secure are respected', async t => {
  const store = new JsonStore()
  const users = new TestUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('pw') })
  const rotation = { secret: [NEW_SECRET, SECRET], authHashSecret: AUTH_HASH_SECRET }
  const before = await instance(t, users, store, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET })
  const oldCookie = await loginAs(before, 'alice', 'pw')
  const rotating = await instance(t, users, store, rotation)
  const themed = await rotating.inject({ url: '/theme', headers: { cookie: oldCookie } })
  t.equal(themed.json().id, 1)
  t.same(themed.cookies.map(cookie => cookie.name).sort(), ['sessionId', 'theme'], 'the theme cookie and the renewed session cookie')
  t.not(cookieFrom(themed), oldCookie)

  // With `cookiePrefix`, @fastify/session reads only cookies that carry it: one without it is left alone.
  const prefixedBefore = await instance(t, users, store, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET, cookiePrefix: 's:' })
  const prefixed = await loginAs(prefixedBefore, 'alice', 'pw')
  t.match(prefixed, /^sessionId=s%3A|^sessionId=s:/)
  const prefixedRotating = await instance(t, users, store, { ...rotation, cookiePrefix: 's:' })
  const renewed = await prefixedRotating.inject({ url: '/whoami', headers: { cookie: prefixed } })
  t.equal(renewed.json().id, 1)
  t.match(cookieFrom(renewed), /^sessionId=s(%3A|:)/, 'renewed with its prefix')
  const unprefixed = await prefixedRotating.inject({ url: '/whoami', headers: { cookie: oldCookie } })
  t.equal(unprefixed.json().id, null, 'a cookie without the prefix is not this app\'s session')

  // A Secure cookie is not sent over plain http, by @fastify/session or by the renewal; over https it is renewed.
  const https = { 'x-forwarded-proto': 'https' }
  const secureBefore = await instance(t, users, store, { secret: SECRET, authHashSecret: AUTH_HASH_SECRET, secure: true })
  const login = await secureBefore.inject({ method: 'POST', url: '/login', headers: https, payload: { username: 'alice', password: 'pw' } })
  const secureCookie = cookieFrom(login) as string
  const secure = await instance(t, users, store, { ...rotation, secure: true })
  const plain = await secure.inject({ url: '/whoami', headers: { cookie: secureCookie } })
  t.equal(plain.json().id, 1)
  t.equal(cookieFrom(plain), undefined, 'no session cookie over http')
  const overTls = await secure.inject({ url: '/whoami', headers: { cookie: secureCookie, ...https } })
  t.not(cookieFrom(overTls), undefined, 'renewed over https')
  t.not(cookieFrom(overTls), secureCookie)
})
