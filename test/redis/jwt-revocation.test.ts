import t, { type Test } from 'tap'
import { performance } from 'node:perf_hooks'
import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import { TEST_HASH_OPTIONS, TestUsers, addRoutes, hashOf } from '../helper'
import { connectClient, testPrefix, type RedisClient } from './app'
import { RedisServer, ownRedisSkipReason, redisFor, redisSkipReason, within } from './server'

// The README's revocation recipe: `jwt.revoke` / `jwt.isRevoked` backed by Redis keys that expire with the token,
// so a token logged out on one instance is refused by every other.

const JWT_SECRET = 'a-jwt-secret-for-the-redis-tests-32-chars+'
const EXPIRES_IN = 900
const SKEW_MARGIN = 30

const skip = redisSkipReason()
const skipOwn = ownRedisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

interface Claims { jti: string, exp: number }

/** The README recipe, word for word but for the key prefix, which is the test's own. */
function revocation (redis: RedisClient, prefix: string) {
  const revokedKey = (claims: Claims): string => `${prefix}jwt-revoked:${claims.jti}`
  return {
    async revoke (claims: Claims) {
      // Past `exp` the token is refused anyway; the margin covers clock skew between instances.
      const ttl = Math.max(1, claims.exp - Math.floor(Date.now() / 1000)) + SKEW_MARGIN
      await redis.set(revokedKey(claims), '1', { expiration: { type: 'EX', value: ttl } })
    },
    async isRevoked (claims: Claims) {
      return (await redis.exists(revokedKey(claims))) === 1
    }
  }
}

async function instance (t: Test, redis: RedisClient, prefix: string, users: TestUsers, storeTimeout?: number): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    hashOptions: TEST_HASH_OPTIONS,
    defaultBackend: 'jwt',
    jwt: {
      secret: JWT_SECRET,
      expiresIn: `${EXPIRES_IN}s`,
      ...revocation(redis, prefix),
      ...(storeTimeout === undefined ? {} : { storeTimeout })
    }
  } as never)
  addRoutes(app)
  await app.ready()
  return app
}

async function twoJwtInstances (t: Test, redisUrl: string, storeTimeout?: number) {
  const prefix = testPrefix()
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const { client: inspect } = await connectClient(t, redisUrl)
  t.teardown(async () => {
    const keys = await inspect.keys(`${prefix}*`)
    if (keys.length > 0) await inspect.del(keys)
  })
  const [{ client: clientA }, { client: clientB }] = await Promise.all([connectClient(t, redisUrl), connectClient(t, redisUrl)])
  const a = await instance(t, clientA, prefix, users, storeTimeout)
  const b = await instance(t, clientB, prefix, users, storeTimeout)
  return { a, b, prefix, inspect }
}

async function tokenFrom (app: FastifyInstance): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'pw' } })
  const token = response.json().token
  if (response.statusCode !== 200 || typeof token !== 'string') throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return token
}

function claimsOf (token: string): Claims {
  return JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString('utf8'))
}

const bearer = (token: string) => ({ authorization: `Bearer ${token}` })

t.test('a token logged out on A is refused on B, under a Redis key that expires with the token', { skip }, async t => {
  const { a, b, prefix, inspect } = await twoJwtInstances(t, url)
  const token = await tokenFrom(a)
  const other = await tokenFrom(a)
  const me = await b.inject({ url: '/me', headers: bearer(token) })
  t.equal(me.statusCode, 200, 'B accepts the token A issued')
  t.equal(me.json().user.username, 'bob')

  const logout = await a.inject({ method: 'POST', url: '/logout', headers: bearer(token) })
  t.equal(logout.statusCode, 200, 'A logged the token out')

  const { jti, exp } = claimsOf(token)
  const key = `${prefix}jwt-revoked:${jti}`
  t.same(await inspect.keys(`${prefix}*`), [key], 'one key, named by the token\'s jti')
  const ttl = await inspect.ttl(key)
  const left = exp - Math.floor(Date.now() / 1000)
  t.ok(ttl > left - 2 && ttl <= left + SKEW_MARGIN, `the key expires with the token (ttl ${ttl} s, token ${left} s)`)

  for (const [name, app] of [['B', b], ['A', a]] as const) {
    const refused = await app.inject({ url: '/me', headers: bearer(token) })
    t.equal(refused.statusCode, 401, `the token is refused on ${name}`)
    t.same((await app.inject({ url: '/whoami', headers: bearer(token) })).json(), { user: null, id: null },
      `and anonymous on ${name}`)
  }
  t.equal((await b.inject({ url: '/me', headers: bearer(other) })).statusCode, 200,
    'another token of the same user is not revoked')
})

t.test('with Redis unreachable, tokens are refused with a 5xx (fail closed) and logout is not reported as done', { skip: skipOwn }, async t => {
  const server = await RedisServer.start()
  t.teardown(() => server.stop())
  const storeTimeout = 500
  const { a, b } = await twoJwtInstances(t, server.url, storeTimeout)
  const token = await tokenFrom(a)

  for (const [outage, down, up] of [
    ['paused', () => server.pause(), () => server.resume()],
    ['killed', () => server.kill(), () => server.restart()]
  ] as const) {
    await down()
    for (const [what, app, request] of [
      ['a request with the token on B', b, { url: '/me', headers: bearer(token) }],
      ['a logout on A', a, { method: 'POST' as const, url: '/logout', headers: bearer(token) }]
    ] as const) {
      const start = performance.now()
      const response = await within(app.inject(request), 10_000, what)
      const ms = performance.now() - start
      t.ok(response.statusCode >= 500 && response.statusCode < 600, `Redis ${outage}: ${what} answers 5xx (${response.statusCode})`)
      t.notMatch(response.body, /bob/, `Redis ${outage}: ${what} names no user`)
      t.ok(ms < storeTimeout + 1500, `Redis ${outage}: ${what} answered in ${Math.round(ms)} ms`)
    }
    await up()
    // Back: the token works again (the paused logout may have reached Redis late: then it is revoked, as asked).
    const until = Date.now() + 5000
    let status = 0
    while (Date.now() < until && (status = (await b.inject({ url: '/me', headers: bearer(token) })).statusCode) >= 500) {
      await new Promise(resolve => setTimeout(resolve, 50))
    }
    t.ok(status === 200 || status === 401, `Redis ${outage} and back: the token is judged again (${status})`)
  }
  const fresh = await tokenFrom(a)
  t.equal((await b.inject({ url: '/me', headers: bearer(fresh) })).statusCode, 200, 'new tokens work on B')
  t.equal((await a.inject({ method: 'POST', url: '/logout', headers: bearer(fresh) })).statusCode, 200, 'logout works on A')
  t.equal((await b.inject({ url: '/me', headers: bearer(fresh) })).statusCode, 401, 'and is final on B')
})
