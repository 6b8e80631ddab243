import t from 'tap'
import argon2 = require('argon2')
import Fastify, { type FastifyInstance } from 'fastify'
import { RedisStore } from 'connect-redis'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, cookieFrom, hashOf, loginAs, type TestUser } from '../helper'
import { cleanUp, connectClient, testPrefix } from './app'
import { redisFor, redisSkipReason } from './server'

// request.changePassword on instance A while the same user logs in on instance B, both on one Redis: the login on
// B, made with the old password, must not outlive the change, and the login A kept must work on B.

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

const OLD = 'old password'
const NEW = 'new password'

/** A user store as a database is one: every read is a copy of the row, and a write changes the row only. */
function database (rows: TestUsers): TestUsers {
  const copy = (user: TestUser | undefined): TestUser | undefined => user === undefined ? undefined : { ...user }
  const store = new TestUsers()
  store.findByUsername = async username => copy(await rows.findByUsername(username))
  store.findById = async id => copy(await rows.findById(id))
  store.updatePasswordHash = async (user, hash) => {
    (rows.byId.get(user.id) as TestUser).password = hash
  }
  return store
}

async function instance (t: { teardown: (fn: () => unknown) => void }, prefix: string, users: TestUsers): Promise<FastifyInstance> {
  const { client } = await connectClient(t, url)
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    hashOptions: TEST_HASH_OPTIONS,
    session: { secret: SECRET, cookie: { secure: false }, store: new RedisStore({ client, prefix }) }
  } as never)
  addRoutes(app)
  app.post('/password', async request => {
    const { current, next } = request.body as { current: string, next: string }
    await request.changePassword(current, next)
    return { id: request.getUserId() }
  })
  await app.ready()
  return app
}

async function who (app: FastifyInstance, cookie: string): Promise<unknown> {
  return (await app.inject({ url: '/whoami', headers: { cookie } })).json().user?.id ?? null
}

for (const store of ['shared user objects', 'a database (copies)'] as const) {
  t.test(`a change on A racing a login of the same user on B (${store})`, { skip }, async t => {
    const prefix = testPrefix()
    const { client: inspect } = await connectClient(t, url)
    cleanUp(t, inspect, prefix)
    const rows = new TestUsers()
    const ann = rows.add({ id: 1, username: 'ann', password: await hashOf(OLD) })
    const users = store === 'shared user objects' ? rows : database(rows)
    const [a, b] = await Promise.all([instance(t, prefix, users), instance(t, prefix, users)])
    const oldHash = ann.password as string

    const onA = await loginAs(a, 'ann', OLD)
    const earlierOnB = await loginAs(b, 'ann', OLD)

    // B's login has read Ann and is checking the old password when A's change stores the new hash.
    let release!: () => void
    let arrived!: () => void
    const held = new Promise<void>(resolve => { release = resolve })
    const arrival = new Promise<void>(resolve => { arrived = resolve })
    const original = argon2.verify
    let first = true
    argon2.verify = async (digest, password, options) => {
      if (first && digest === oldHash) {
        first = false
        arrived()
        await held
      }
      return original(digest, password, options)
    }
    t.teardown(() => { argon2.verify = original })
    const racing = b.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: OLD } })
    await arrival

    const change = await a.inject({ method: 'POST', url: '/password', headers: { cookie: onA }, payload: { current: OLD, next: NEW } })
    t.equal(change.statusCode, 200)
    const kept = cookieFrom(change) as string
    t.ok(kept, 'A renewed its login')
    release()
    const late = await racing
    t.equal(late.statusCode, 200, "B's login checked the old password while it was still the password")
    const lateCookie = cookieFrom(late) as string

    for (const [name, app] of [['A', a], ['B', b]] as const) {
      t.equal(await who(app, lateCookie), null, `the racing login is ended on ${name}`)
      t.equal(await who(app, earlierOnB), null, `the earlier login on B is ended, seen from ${name}`)
      t.equal(await who(app, onA), null, `the cookie A's change came with is dead on ${name}`)
      t.equal(await who(app, kept), 1, `the login A kept works on ${name}`)
    }
    t.equal((await b.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: OLD } })).statusCode, 401)
    t.equal(await who(a, await loginAs(b, 'ann', NEW)), 1, 'the new password logs in on B, and the login works on A')
  })
}
