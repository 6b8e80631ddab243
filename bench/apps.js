'use strict'

// The apps the per-request figures compare. Each answers GET /me with `{ id }` (the current user's id, or null) and
// is built by a function that logs a user in (when the variant is about an authenticated request) and returns the
// request to repeat. `check` proves each app answers what it should before anything is timed, so a broken login can
// never show up as a fast figure.

const { randomBytes } = require('node:crypto')
const Fastify = require('fastify')
const fastifyCookie = require('@fastify/cookie')
const fastifySession = require('@fastify/session')
const fastifyJwt = require('@fastify/jwt')
const { Authenticator } = require('@fastify/passport')
const auth = require('../dist/index.js')
const { USER_ID_KEY, BACKEND_KEY } = auth
const AUTH_HASH_KEY = '_auth_user_hash'
const { SECRET, JWT_SECRET, CHEAP_HASH_OPTIONS, sessionOptions, makeUsers } = require('./common')

const { MemoryStore } = fastifySession

function cookieOf (response, name = 'sessionId') {
  const cookie = response.cookies.find(c => c.name === name && c.value !== '')
  if (cookie === undefined) throw new Error(`no ${name} cookie in the login response (${response.statusCode} ${response.body})`)
  return `${name}=${cookie.value}`
}

async function sessionApp () {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, sessionOptions(new MemoryStore()))
  return app
}

function pluginOptions (users, extra = {}) {
  return {
    users,
    session: { secret: SECRET, cookie: { secure: false }, store: new MemoryStore() },
    hashOptions: CHEAP_HASH_OPTIONS,
    ...extra
  }
}

/** Fastify alone: what any route costs. A reference line, not a baseline of any goal. */
async function bare () {
  const app = Fastify()
  app.get('/me', async () => ({ id: null }))
  return { app, request: { method: 'GET', url: '/me' }, expect: null }
}

/** Anonymous baseline: Fastify with @fastify/session and no auth at all. */
async function sessionAnonymous () {
  const app = await sessionApp()
  app.get('/me', async () => ({ id: null }))
  return { app, request: { method: 'GET', url: '/me' }, expect: null }
}

async function pluginAnonymous () {
  const users = await makeUsers(CHEAP_HASH_OPTIONS)
  const app = Fastify()
  await app.register(auth, pluginOptions(users))
  app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
  return { app, request: { method: 'GET', url: '/me' }, expect: null }
}

/**
 * Session baseline: @fastify/session used by hand. Login writes `keys` to the session (the first one is the user id);
 * each request reads the id and finds the user.
 */
function sessionByHand (keys = { userId: 1 }) {
  const idKey = Object.keys(keys)[0]
  return async function sessionByHand () {
    const users = await makeUsers(CHEAP_HASH_OPTIONS)
    const app = await sessionApp()
    app.post('/login', async (request) => {
      await request.session.regenerate()
      for (const [key, value] of Object.entries(keys)) request.session.set(key, value)
      return { id: 1 }
    })
    app.get('/me', async (request) => {
      const id = request.session.get(idKey)
      const user = id === undefined ? null : await users.findById(id)
      return { id: user?.id ?? null }
    })
    await app.ready()
    const cookie = cookieOf(await app.inject({ method: 'POST', url: '/login' }))
    return { app, request: { method: 'GET', url: '/me', headers: { cookie } }, expect: 1 }
  }
}

/** @fastify/passport over the same @fastify/session options, its session strategy deserializing with findById. */
async function passport () {
  const users = await makeUsers(CHEAP_HASH_OPTIONS)
  const authenticator = new Authenticator()
  authenticator.registerUserSerializer(async (user) => user.id)
  authenticator.registerUserDeserializer(async (id) => users.findById(id))
  const app = await sessionApp()
  await app.register(authenticator.initialize())
  await app.register(authenticator.secureSession())
  app.post('/login', async (request) => {
    await request.logIn(users.byId.get(1))
    return { id: 1 }
  })
  app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
  await app.ready()
  const cookie = cookieOf(await app.inject({ method: 'POST', url: '/login' }))
  return { app, request: { method: 'GET', url: '/me', headers: { cookie } }, expect: 1 }
}

/** The plugin on its session backend, with its defaults (or with `session` options changed, for the breakdown). */
function pluginSession (session = {}) {
  return async function pluginSession () {
    const users = await makeUsers(CHEAP_HASH_OPTIONS)
    const app = Fastify()
    const options = pluginOptions(users)
    await app.register(auth, { ...options, session: { ...options.session, ...session } })
    app.post('/login', async (request) => {
      await request.login({ userId: 1 })
      return { id: request.user.id }
    })
    app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
    await app.ready()
    const cookie = cookieOf(await app.inject({ method: 'POST', url: '/login' }))
    return { app, request: { method: 'GET', url: '/me', headers: { cookie } }, expect: 1 }
  }
}

/**
 * JWT baseline: @fastify/jwt used by hand, with its defaults (HS256, no verification cache). The token carries the id
 * and claims the size of the plugin's; each request verifies it and finds the user.
 */
function jwtByHand ({ cache = false } = {}) {
  return async function jwtByHand () {
    const users = await makeUsers(CHEAP_HASH_OPTIONS)
    const app = Fastify()
    await app.register(fastifyJwt, { secret: JWT_SECRET, sign: { expiresIn: '15m' }, verify: cache ? { cache: 1000 } : {} })
    app.get('/me', async (request) => {
      let id = null
      if (request.headers.authorization !== undefined) {
        const claims = await request.jwtVerify()
        id = (await users.findById(claims[USER_ID_KEY]))?.id ?? null
      }
      return { id }
    })
    await app.ready()
    const token = app.jwt.sign({
      [USER_ID_KEY]: 1,
      [BACKEND_KEY]: 'jwt',
      [AUTH_HASH_KEY]: randomBytes(32).toString('base64url'),
      jti: randomBytes(16).toString('base64url')
    })
    return { app, request: { method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } }, expect: 1 }
  }
}

/** The plugin on its JWT backend alone, with its defaults (HS256, tokens of 15 minutes, a verification cache). */
async function pluginJwt () {
  const users = await makeUsers(CHEAP_HASH_OPTIONS)
  const app = Fastify()
  await app.register(auth, { users, defaultBackend: 'jwt', jwt: { secret: JWT_SECRET }, hashOptions: CHEAP_HASH_OPTIONS })
  app.post('/login', async (request) => ({ token: await request.login({ userId: 1 }) }))
  app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
  await app.ready()
  const { token } = (await app.inject({ method: 'POST', url: '/login' })).json()
  return { app, request: { method: 'GET', url: '/me', headers: { authorization: `Bearer ${token}` } }, expect: 1 }
}

const variants = {
  bare,
  'session-anonymous': sessionAnonymous,
  'plugin-anonymous': pluginAnonymous,
  'session-by-hand': sessionByHand(),
  // The baseline again, as a variant of its own: how far apart two identical apps measure is the noise floor.
  'session-by-hand-again': sessionByHand(),
  // The same by hand, with the session holding what the plugin's does (its two keys): not a goal's baseline, but it
  // splits the plugin's cost into what @fastify/session charges for the keys (it serializes and hashes the whole
  // session twice per request) and what the plugin's own code costs.
  'session-by-hand-same-keys': sessionByHand({ [USER_ID_KEY]: 1, [BACKEND_KEY]: 'session' }),
  passport,
  'plugin-session': pluginSession(),
  // Its signature cache off: what checking the cookie's HMAC on every request, as @fastify/session does, costs.
  'plugin-session-uncached': pluginSession({ cacheSize: 0 }),
  'jwt-by-hand': jwtByHand(),
  'jwt-by-hand-cached': jwtByHand({ cache: true }),
  'plugin-jwt': pluginJwt
}

/** Builds a variant and proves it answers its request with the expected user before anything is timed. */
async function build (name) {
  const variant = await variants[name]()
  await variant.app.ready()
  for (let i = 0; i < 3; i++) {
    const response = await variant.app.inject(variant.request)
    const body = response.json()
    if (response.statusCode !== 200 || body.id !== variant.expect) {
      throw new Error(`${name}: GET /me answered ${response.statusCode} ${response.body}, expected id ${variant.expect}`)
    }
    if (response.headers['set-cookie'] !== undefined) {
      throw new Error(`${name}: GET /me set a cookie (${response.headers['set-cookie']}): the session was saved again`)
    }
  }
  return variant
}

module.exports = { variants, build }
