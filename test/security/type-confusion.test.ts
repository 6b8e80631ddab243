// Row 8, type confusion: credentials that are not strings (arrays, objects, NoSQL operators, numbers, booleans,
// null, Buffers, `{ length: 1e8 }`, which argon2 would turn into a 100 MB buffer) never reach the user store or
// argon2, and give the same 401 as a wrong password. Fastify's default Ajv coerces `["hi"]` to "hi" and 123 to "123",
// so login routes should validate with an Ajv that does not coerce: the schema recommended in the README is tested here.
import t from 'tap'
import Ajv from 'ajv'
import type { FastifyInstance, FastifySchema } from 'fastify'
import { TestUsers, hashOf } from '../helper'
import { buildApp, spyOnVerify } from './kit'

/** The README's login schema: strings only, sized for credentials, nothing else in the body. */
const loginSchema: FastifySchema = {
  body: {
    type: 'object',
    required: ['username', 'password'],
    additionalProperties: false,
    properties: {
      username: { type: 'string', minLength: 1, maxLength: 512 },
      password: { type: 'string', minLength: 1, maxLength: 4096 }
    }
  }
}

/** The README's validator for login routes: Fastify's defaults, minus type coercion. */
const strictAjv = new Ajv({ coerceTypes: false, useDefaults: true, removeAdditional: false, allErrors: false })

/** A user store that would run NoSQL-style queries if handed an object, as a careless database adapter might. */
class QueryingUsers extends TestUsers {
  readonly nonStringLookups: unknown[] = []
  override findByUsername = async (username: unknown) => {
    this.calls.findByUsername++
    if (typeof username !== 'string') {
      this.nonStringLookups.push(username)
      // `{ $ne: null }` matches the first user, as it would in MongoDB.
      return this.byId.values().next().value
    }
    for (const user of this.byId.values()) if (user.username === username) return user
    return undefined
  }
}

/** Values JSON cannot carry, built on the server and passed straight to request.authenticate(). */
const SERVER_SIDE: Record<string, () => unknown> = {
  Buffer: () => Buffer.from('alice-pw'),
  Uint8Array: () => new Uint8Array(Buffer.from('alice-pw')),
  'a String object': () => new String('alice-pw'), // eslint-disable-line no-new-wrappers
  'an object whose toString gives the password': () => ({ toString: () => 'alice-pw' }),
  '{ length: 1e8 }': () => ({ length: 1e8 }),
  'a bigint': () => 1n,
  'a symbol': () => Symbol('alice-pw'),
  'a function': () => () => 'alice-pw',
  undefined: () => undefined
}

/** The same confusion sent as JSON through the usual login route. */
const OVER_JSON: Record<string, unknown> = {
  'an array': ['alice-pw'],
  'a nested array': [['alice-pw']],
  'an empty object': {},
  'a NoSQL $ne operator': { $ne: null },
  'a NoSQL $gt operator': { $gt: '' },
  'a serialized Buffer': { type: 'Buffer', data: [...Buffer.from('alice-pw')] },
  '{ length: 1e8 }': { length: 1e8 },
  'a number': 123,
  'a huge number': 1e308,
  'a boolean': true,
  null: null
}

async function setup (t: tap.Test) {
  const users = new QueryingUsers()
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 123, username: '123', password: await hashOf('123') })
  const { app } = await buildApp(t, {
    users,
    routes (app: FastifyInstance) {
      app.post('/login-server-side', async (request) => {
        const { kind, field } = request.body as { kind: string, field: 'username' | 'password' }
        const value = (SERVER_SIDE[kind] as () => unknown)()
        const [username, password] = field === 'username' ? [value, 'alice-pw'] : ['alice', value]
        await request.login({ user: await request.authenticate(username as string, password as string) })
        return { ok: true }
      })
      // What an app gets with Fastify's default Ajv: coercion on.
      app.post('/login-coercing', { schema: loginSchema }, async (request) => {
        const { username, password } = request.body as { username: string, password: string }
        await request.login({ user: await request.authenticate(username, password) })
        return { username: (request.user as { username: string }).username }
      })
      // The README's recommendation.
      app.post('/login-strict', {
        bodyLimit: 16 * 1024,
        schema: loginSchema,
        validatorCompiler: ({ schema }) => strictAjv.compile(schema)
      }, async (request) => {
        const { username, password } = request.body as { username: string, password: string }
        await request.login({ user: await request.authenticate(username, password) })
        return { username: (request.user as { username: string }).username }
      })
    }
  })
  return { app, users, verifies: spyOnVerify(t) }
}

t.test('non-string credentials over JSON give 401 and reach neither the store nor argon2', async t => {
  const { app, users, verifies } = await setup(t)
  for (const [name, value] of Object.entries(OVER_JSON)) {
    for (const payload of [{ username: value, password: 'alice-pw' }, { username: 'alice', password: value }]) {
      const field = payload.username === value ? 'username' : 'password'
      const response = await app.inject({ method: 'POST', url: '/login', payload })
      t.equal(response.statusCode, 401, `${name} as the ${field}: 401`)
      t.equal(response.json().code, 'FST_AUTH_AUTHENTICATION_FAILED')
    }
  }
  t.same(users.nonStringLookups, [], 'the user store never saw a non-string username')
  t.equal(verifies.length, 0, 'argon2 never ran')
})

t.test('non-string credentials handed to request.authenticate() directly give 401 and reach neither', async t => {
  const { app, users, verifies } = await setup(t)
  for (const kind of Object.keys(SERVER_SIDE)) {
    for (const field of ['username', 'password']) {
      const response = await app.inject({ method: 'POST', url: '/login-server-side', payload: { kind, field } })
      t.equal(response.statusCode, 401, `${kind} as the ${field}: 401`)
    }
  }
  t.same(users.nonStringLookups, [])
  t.equal(verifies.length, 0)
})

t.test('control: Fastify\'s default Ajv coerces credentials before the plugin sees them', async t => {
  const { app } = await setup(t)
  const array = await app.inject({ method: 'POST', url: '/login-coercing', payload: { username: 'alice', password: ['alice-pw'] } })
  t.equal(array.statusCode, 200, '["alice-pw"] became "alice-pw" and logged in')
  const number = await app.inject({ method: 'POST', url: '/login-coercing', payload: { username: 123, password: 123 } })
  t.same(number.json(), { username: '123' }, '123 became "123" and logged in')
})

t.test('the README\'s strict login schema refuses every non-string with 400 before the handler', async t => {
  const { app, users, verifies } = await setup(t)
  for (const [name, value] of Object.entries(OVER_JSON)) {
    for (const payload of [{ username: value, password: 'alice-pw' }, { username: 'alice', password: value }]) {
      const response = await app.inject({ method: 'POST', url: '/login-strict', payload })
      t.equal(response.statusCode, 400, `${name}: 400`)
      t.equal(response.json().code, 'FST_ERR_VALIDATION')
    }
  }
  for (const body of ['null', '[]', '"alice"', '123', '{"username":"alice"}', '{"username":"alice","password":"alice-pw","isAdmin":true}']) {
    const response = await app.inject({ method: 'POST', url: '/login-strict', payload: body, headers: { 'content-type': 'application/json' } })
    t.equal(response.statusCode, 400, `body ${body}: 400`)
  }
  t.equal(users.calls.findByUsername, 0, 'the handler never ran')
  t.equal(verifies.length, 0)

  const ok = await app.inject({ method: 'POST', url: '/login-strict', payload: { username: 'alice', password: 'alice-pw' } })
  t.same(ok.json(), { username: 'alice' }, 'string credentials still log in')
})
