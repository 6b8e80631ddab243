'use strict'

// Heap and session store size after 10 000 login / request / logout cycles: logout must leave nothing behind, in the
// store (the session entry and the login record) or in the process. Runs with --expose-gc (bench/run.js passes it)
// so that the heap is measured after a full collection. Cheap argon2 parameters: argon2 is not what is measured.

const Fastify = require('fastify')
const { MemoryStore } = require('@fastify/session')
const auth = require('../dist/index.js')
const { CHEAP_HASH_OPTIONS, PASSWORD, SECRET, makeUsers, log, report } = require('./common')

const CYCLES = Number(process.env.BENCH_MEMORY_CYCLES ?? 10_000)
const WARMUP = Number(process.env.BENCH_MEMORY_WARMUP ?? 500)
const USERS = 100

function heapUsed () {
  if (typeof globalThis.gc !== 'function') throw new Error('run with node --expose-gc')
  for (let i = 0; i < 4; i++) globalThis.gc()
  return process.memoryUsage().heapUsed
}

async function main () {
  const users = await makeUsers(CHEAP_HASH_OPTIONS, USERS)
  const entries = new Map()
  const app = Fastify()
  await app.register(auth, {
    users,
    session: { secret: SECRET, cookie: { secure: false }, store: new MemoryStore(entries) },
    hashOptions: CHEAP_HASH_OPTIONS
  })
  app.post('/login', async (request) => {
    const user = await request.authenticate(request.body.username, request.body.password)
    await request.login({ user })
    return { id: user.id }
  })
  app.post('/login-id', async (request) => {
    await request.login({ userId: request.body.userId })
    return { id: request.user.id }
  })
  app.get('/me', { preHandler: app.requireUser }, async (request) => ({ id: request.user.id }))
  app.post('/logout', async (request) => {
    await request.logout()
    return { id: request.user?.id ?? null }
  })
  await app.ready()

  const cycle = async (i) => {
    // One cycle in ten checks the password too; the others log in by id, as after a sign-up or an OAuth callback,
    // which keeps 10 000 cycles within the bench's time budget (argon2 holds no state between calls).
    const userId = (i % USERS) + 1
    const login = i % 10 === 0
      ? await app.inject({ method: 'POST', url: '/login', payload: { username: `user${userId}`, password: PASSWORD } })
      : await app.inject({ method: 'POST', url: '/login-id', payload: { userId } })
    const cookie = login.cookies.find(c => c.name === 'sessionId')
    if (login.statusCode !== 200 || cookie === undefined) throw new Error(`login failed: ${login.statusCode} ${login.body}`)
    const headers = { cookie: `sessionId=${cookie.value}` }
    const me = await app.inject({ method: 'GET', url: '/me', headers })
    if (me.statusCode !== 200) throw new Error(`GET /me after login: ${me.statusCode} ${me.body}`)
    const logout = await app.inject({ method: 'POST', url: '/logout', headers })
    if (logout.statusCode !== 200 || logout.json().id !== null) throw new Error(`logout failed: ${logout.statusCode} ${logout.body}`)
    // The old cookie must be dead after logout, or "nothing left behind" would mean nothing.
    if ((await app.inject({ method: 'GET', url: '/me', headers })).statusCode !== 401) throw new Error('the cookie outlived logout')
  }

  // The start is measured after a warm-up: code compiled on the first requests is not a leak.
  for (let i = 0; i < WARMUP; i++) await cycle(i)
  const start = { heap: heapUsed(), entries: entries.size }
  log(`memory: ${CYCLES} login/logout cycles (start: ${(start.heap / 1048576).toFixed(1)} MiB, ${start.entries} store entries)`)
  const began = Date.now()
  for (let i = 0; i < CYCLES; i++) {
    await cycle(i)
    if ((i + 1) % 2500 === 0) log(`  ${i + 1}/${CYCLES}`)
  }
  const seconds = (Date.now() - began) / 1000
  const end = { heap: heapUsed(), entries: entries.size }
  await app.close()
  report({ section: 'memory', cycles: CYCLES, warmup: WARMUP, seconds, start, end, heapRatio: end.heap / start.heap })
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
