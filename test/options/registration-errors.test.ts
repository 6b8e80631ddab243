import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../../lib/index'
import { SECRET, TestUsers } from '../helper'

// The errors a first app meets at startup: each names the option to set, and none is another plugin's own error
// (a pasted example whose environment variable is unset gets `session.secret` named, not @fastify/session's words).
const users = new TestUsers()

async function registerError (options: unknown): Promise<Error & { code?: string }> {
  const app = Fastify()
  try {
    await app.register(auth, options as never)
    await app.ready()
  } catch (err) {
    return err as Error & { code?: string }
  } finally {
    await app.close()
  }
  throw new Error('registration succeeded')
}

t.test('a session without a secret fails with FST_AUTH_INVALID_OPTION naming `session.secret`', async t => {
  const cases: Array<[string, unknown]> = [
    ['an unset environment variable', { secret: process.env.FASTIFY_AUTH_HELPERS_UNSET_SECRET }],
    ['no secret key', {}],
    ['null', { secret: null }],
    ['a number', { secret: 42 }],
    ['an object that is no signer', { secret: { sign: () => '' } }]
  ]
  for (const [name, session] of cases) {
    const err = await registerError({ users, session })
    t.equal(err.code, 'FST_AUTH_INVALID_OPTION', `${name}: code`)
    t.match(err.message, /^fastify-auth-helpers: `session\.secret` is required: a string of 32\+ characters/, `${name}: message`)
  }
})

t.test('an app that registered @fastify/session itself needs no `session.secret`', async t => {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET })
  await app.register(auth, { users, session: {}, authHashSecret: SECRET } as never)
  await app.ready()
  t.ok(app.hasRequestDecorator('session'))
})

t.test('a session default that is not configured, with jwt set, says to make jwt the default', async t => {
  const withJwt = await registerError({ users, jwt: { secret: SECRET } })
  t.equal(withJwt.code, 'FST_AUTH_INVALID_OPTION')
  t.match(withJwt.message, /the default backend "session" is not configured: pass the `session` option/)
  t.match(withJwt.message, /or set `defaultBackend: 'jwt'`/)

  const withNeither = await registerError({ users })
  t.match(withNeither.message, /the default backend "session" is not configured/)
  t.notMatch(withNeither.message, /defaultBackend/, 'no hint at jwt when jwt is not set either')
})
