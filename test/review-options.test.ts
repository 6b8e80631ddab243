import t from 'tap'
import Fastify from 'fastify'
import auth from '../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers } from './helper'
import { JWT_SECRET } from './jwt-helper'

// Review: options an app can pass that configure it into an insecure or broken state without an error.

const AUTH_HASH_SECRET = 'an-auth-hash-secret-of-32-characters-or-more'

/** The app as it starts with these plugin options: 'refused' with the message, or the app itself. */
async function start (t: { teardown: (fn: () => unknown) => void }, options: Record<string, unknown>) {
  const app = Fastify()
  t.teardown(() => app.close())
  try {
    await app.register(auth, { users: new TestUsers(), session: { secret: SECRET }, ...options } as never)
    await app.ready()
  } catch (err) {
    return { refused: (err as { code?: unknown }).code === 'FST_AUTH_INVALID_OPTION', message: (err as Error).message, app }
  }
  return { refused: false, message: '', app }
}

t.test('hashOptions other than the three cost parameters are refused, not handed to argon2', async t => {
  // What each would do, handed to argon2 as it was.
  const cases: Record<string, unknown> = {
    salt: Buffer.alloc(16), // every password hashed with one salt: equal passwords, equal hashes
    hashLength: 4, // a 4-byte hash
    secret: Buffer.from('pepper'), // verify() is not given it: no one can log in
    raw: true // hashPassword() resolves to a Buffer, which is never a usable hash
  }
  for (const [key, value] of Object.entries(cases)) {
    const { refused, message } = await start(t, { hashOptions: { ...TEST_HASH_OPTIONS, [key]: value } })
    t.ok(refused, `hashOptions.${key}`)
    t.match(message, new RegExp(`hashOptions\\.${key}`), `hashOptions.${key}: the message names it`)
  }
  const { app } = await start(t, { hashOptions: TEST_HASH_OPTIONS })
  const [one, two] = [await app.hashPassword('same'), await app.hashPassword('same')]
  t.not(one.split('$')[4], two.split('$')[4], 'each hash has its own salt')
})

t.test('every secret of a session secret rotation is held to the 32-character minimum', async t => {
  for (const secret of [['short'], [SECRET, 'short'], [SECRET, '']]) {
    const { refused, message } = await start(t, { authHashSecret: AUTH_HASH_SECRET, session: { secret } })
    t.ok(refused, JSON.stringify(secret))
    t.match(message, /session\.secret.*32/, `${JSON.stringify(secret)}: the message says why`)
  }
  t.notOk((await start(t, { authHashSecret: AUTH_HASH_SECRET, session: { secret: [SECRET, `${SECRET}-old`] } })).refused)
})

t.test('a store timeout longer than a timer can wait is refused, not turned into 1 ms', async t => {
  // Node runs a timer of more than 2^31 - 1 ms after 1 ms: every store call would time out at once.
  for (const [name, options] of Object.entries({
    'session.storeTimeout': { session: { secret: SECRET, storeTimeout: 2 ** 31 } },
    'jwt.storeTimeout': { jwt: { secret: JWT_SECRET, storeTimeout: Number.MAX_SAFE_INTEGER } }
  })) {
    const { refused, message } = await start(t, options)
    t.ok(refused, name)
    t.match(message, name, `${name}: the message names it`)
  }
  t.notOk((await start(t, { session: { secret: SECRET, storeTimeout: 2 ** 31 - 1 } })).refused, 'the longest a timer can wait')
})
