'use strict'

// `npm run demo`: the demo app on HOST:PORT (127.0.0.1:3000 by default). REDIS_URL keeps sessions in Redis,
// LOG_LEVEL (default warn) sets the logger's level, TRUST_PROXY (the address of a TLS-terminating proxy, Fastify's
// trustProxy) serves it over https behind that proxy, with a Secure `__Host-sid` session cookie.

const { buildDemo, DEMO_CREDENTIALS } = require('./app')

/**
 * A Redis-backed @fastify/session store when REDIS_URL is set, the login store beside it (which listing and ending
 * logins need on any store but the in-process default), and the function that closes their client.
 */
async function redisSessions (url) {
  // Loaded only when asked for: redis and connect-redis are development dependencies of this repository.
  const { createClient } = require('redis')
  const { RedisStore } = require('connect-redis')
  const { createRedisLoginStore } = require('fastify-auth-helpers')
  const client = createClient({ url })
  await client.connect()
  return {
    store: new RedisStore({ client, prefix: 'demo-sess:' }),
    // Login records (and refresh token hashes) beside the sessions, spent and ended atomically by single-key scripts.
    loginStore: createRedisLoginStore(client, { prefix: 'demo-sess:' }),
    close: () => client.close()
  }
}

async function main () {
  const host = process.env.HOST || '127.0.0.1'
  const port = Number(process.env.PORT || 3000)
  const redis = process.env.REDIS_URL ? await redisSessions(process.env.REDIS_URL) : null

  const app = await buildDemo({
    sessionStore: redis?.store,
    loginStore: redis?.loginStore,
    logger: { level: process.env.LOG_LEVEL || 'warn' },
    trustProxy: process.env.TRUST_PROXY || undefined
  })
  if (redis !== null) app.addHook('onClose', redis.close)
  const address = await app.listen({ host, port })

  console.log(`fastify-auth-helpers demo listening on ${address}`)
  console.log(`Sessions: ${redis === null ? 'in memory' : 'Redis'}`)
  console.log(`Sign in as ${DEMO_CREDENTIALS.username}, password "${DEMO_CREDENTIALS.password}"`)

  for (const signal of ['SIGINT', 'SIGTERM']) {
    process.once(signal, () => {
      app.close().then(() => process.exit(0), () => process.exit(1))
    })
  }
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
