'use strict'

// `authenticate` against a bare argon2.verify of the same hash, and the failure paths against a wrong password, all
// with argon2's default parameters: the figure is about argon2, so it uses what users get. Two clocks: the process's
// CPU time (every thread's, so argon2's lanes count), the steadier one on a shared machine, and the wall time a caller
// waits, which is what an attacker timing the failure paths would measure.

const Fastify = require('fastify')
const argon2 = require('argon2')
const auth = require('../dist/index.js')
const { DEFAULT_HASH_OPTIONS, PASSWORD, SECRET, Users, interleave, figures, log, report } = require('./common')

const ROUNDS = Number(process.env.BENCH_ARGON2_ROUNDS ?? 11)
const CALLS = Number(process.env.BENCH_ARGON2_CALLS ?? 1)

async function main () {
  const hash = await argon2.hash(PASSWORD, { ...DEFAULT_HASH_OPTIONS, type: argon2.argon2id })
  const users = new Users()
  users.add({ id: 1, username: 'active', password: hash, isActive: true })
  users.add({ id: 2, username: 'inactive', password: hash, isActive: false })

  const app = Fastify()
  await app.register(auth, { users, session: { secret: SECRET, cookie: { secure: false } }, hashOptions: DEFAULT_HASH_OPTIONS })
  // The same route shape for both, so the only difference is what the handler awaits.
  app.post('/argon2-verify', async (request) => {
    const ok = await argon2.verify(hash, request.body.password)
    if (!ok) throw new Error('argon2.verify did not match')
    return { ok }
  })
  app.post('/authenticate', async (request, reply) => {
    try {
      const user = await request.authenticate(request.body.username, request.body.password)
      return { ok: true, id: user.id }
    } catch (err) {
      return reply.code(err.statusCode ?? 500).send({ ok: false, code: err.code })
    }
  })
  await app.ready()

  const cases = {
    'argon2.verify': { url: '/argon2-verify', body: { password: PASSWORD }, status: 200 },
    authenticate: { url: '/authenticate', body: { username: 'active', password: PASSWORD }, status: 200 },
    'wrong password': { url: '/authenticate', body: { username: 'active', password: 'not the password' }, status: 401 },
    'unknown user': { url: '/authenticate', body: { username: 'nobody', password: PASSWORD }, status: 401 },
    'inactive user': { url: '/authenticate', body: { username: 'inactive', password: PASSWORD }, status: 401 }
  }
  const call = async (name) => {
    const { url, body, status } = cases[name]
    const response = await app.inject({ method: 'POST', url, payload: body })
    if (response.statusCode !== status) throw new Error(`${name}: ${response.statusCode} ${response.body}, expected ${status}`)
  }
  for (const name of Object.keys(cases)) await call(name)

  log(`argon2: ${Object.keys(cases).length} cases, ${ROUNDS} rounds of ${CALLS} calls, default parameters`)
  const perRound = await interleave(Object.keys(cases), ROUNDS, async (name) => {
    const wall = process.hrtime.bigint()
    const cpu = process.cpuUsage()
    for (let i = 0; i < CALLS; i++) await call(name)
    const used = process.cpuUsage(cpu)
    return {
      wall: Number(process.hrtime.bigint() - wall) / 1e6 / CALLS,
      cpu: (used.user + used.system) / 1000 / CALLS
    }
  }, round => log(`  round ${round + 1}/${ROUNDS}`))
  await app.close()
  report({
    section: 'argon2',
    rounds: ROUNDS,
    calls: CALLS,
    parameters: argon2HashParameters(hash),
    ...figures(perRound, { wall: 'medianWallMs', cpu: 'medianCpuMs' })
  })
}

function argon2HashParameters (hash) {
  return hash.split('$')[3]
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
