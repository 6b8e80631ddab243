'use strict'

// The apps of the Redis section (bench/redis.js), each on connect-redis and node-redis with the same store setup,
// each answering POST /login (a session cookie, or `{ token }`), GET /me (`{ id }`) and POST /logout. Logins skip
// the password (the same for all), so what differs is the store work. Run as `node bench/redis-apps.js <variant>
// <redis port>`: serves on loopback and tells the parent its port.

const { randomBytes } = require('node:crypto')
const Fastify = require('fastify')
const fastifyCookie = require('@fastify/cookie')
const fastifySession = require('@fastify/session')
const fastifyJwt = require('@fastify/jwt')
const { Authenticator } = require('@fastify/passport')
const { RedisStore } = require('connect-redis')
const { createClient } = require('redis')
const auth = require('../dist/index.js')
const { SECRET, JWT_SECRET, CHEAP_HASH_OPTIONS, sessionOptions, makeUsers } = require('./common')

async function connect (port) {
  const client = createClient({ socket: { host: '127.0.0.1', port } })
  client.on('error', error => process.stderr.write(`redis client: ${error.message}\n`))
  await client.connect()
  return client
}

async function sessionApp (client) {
  const app = Fastify()
  await app.register(fastifyCookie)
  await app.register(fastifySession, sessionOptions(new RedisStore({ client })))
  return app
}

const variants = {
  /** @fastify/session by hand: login regenerates and writes the id, each request reads it and finds the user. */
  async 'session-by-hand' (client, users) {
    const app = await sessionApp(client)
    app.post('/login', async (request) => {
      await request.session.regenerate()
      request.session.set('userId', 1)
      return { id: 1 }
    })
    app.get('/me', async (request) => {
      const id = request.session.get('userId')
      return { id: id === undefined ? null : (await users.findById(id))?.id ?? null }
    })
    app.post('/logout', async (request) => {
      await request.session.destroy()
      return { ok: true }
    })
    return app
  },

  async passport (client, users) {
    const authenticator = new Authenticator()
    authenticator.registerUserSerializer(async (user) => user.id)
    authenticator.registerUserDeserializer(async (id) => users.findById(id))
    const app = await sessionApp(client)
    await app.register(authenticator.initialize())
    await app.register(authenticator.secureSession())
    app.post('/login', async (request) => {
      await request.logIn(users.byId.get(1))
      return { id: 1 }
    })
    app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
    app.post('/logout', async (request) => {
      await request.logOut()
      return { ok: true }
    })
    return app
  },

  /** The plugin as the README recommends it on Redis: connect-redis sessions, the Redis login store, one client. */
  async 'plugin-session' (client, users) {
    const app = Fastify()
    await app.register(auth, {
      users,
      hashOptions: CHEAP_HASH_OPTIONS,
      session: { secret: SECRET, cookie: { secure: false }, store: new RedisStore({ client }) },
      loginStore: auth.createRedisLoginStore(client)
    })
    app.post('/login', async (request) => {
      await request.login({ userId: 1 })
      return { id: 1 }
    })
    app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
    app.post('/logout', async (request) => {
      await request.logout()
      return { ok: true }
    })
    return app
  },

  /** @fastify/jwt by hand with the README's revocation recipe on the same Redis: one EXISTS per request. */
  async 'jwt-by-hand' (client, users) {
    const app = Fastify()
    await app.register(fastifyJwt, { secret: JWT_SECRET, sign: { expiresIn: '15m' } })
    const revoked = claims => `jwt-revoked:${claims.jti}`
    app.post('/login', async () => ({ token: app.jwt.sign({ userId: 1, jti: randomBytes(16).toString('base64url') }) }))
    app.get('/me', async (request) => {
      if (request.headers.authorization === undefined) return { id: null }
      const claims = await request.jwtVerify()
      if (await client.exists(revoked(claims)) === 1) return { id: null }
      return { id: (await users.findById(claims.userId))?.id ?? null }
    })
    app.post('/logout', async (request) => {
      const claims = await request.jwtVerify()
      await client.set(revoked(claims), '1', { expiration: { type: 'EX', value: Math.max(1, claims.exp - Math.floor(Date.now() / 1000)) } })
      return { ok: true }
    })
    return app
  },

  /** The plugin's JWT backend with its logins in the Redis login store: one record read per request. */
  async 'plugin-jwt' (client, users) {
    const app = Fastify()
    await app.register(auth, {
      users,
      hashOptions: CHEAP_HASH_OPTIONS,
      defaultBackend: 'jwt',
      jwt: { secret: JWT_SECRET },
      loginStore: auth.createRedisLoginStore(client)
    })
    app.post('/login', async (request) => ({ token: await request.login({ userId: 1 }) }))
    app.get('/me', async (request) => ({ id: request.user?.id ?? null }))
    app.post('/logout', async (request) => {
      await request.logout()
      return { ok: true }
    })
    return app
  }
}

async function main () {
  const [name, port] = process.argv.slice(2)
  const client = await connect(Number(port))
  const app = await variants[name](client, await makeUsers(CHEAP_HASH_OPTIONS))
  await app.listen({ host: '127.0.0.1', port: 0 })
  process.send({ name, port: app.server.address().port, jwt: name.includes('jwt') })
  process.on('disconnect', () => app.close().then(() => client.destroy()).then(() => process.exit(0)))
}

if (require.main === module) {
  main().catch(err => {
    console.error(err)
    process.exit(1)
  })
}

module.exports = { variants }
