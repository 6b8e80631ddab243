'use strict'

// Event-loop delay while 8 logins (authenticate + login, argon2's default parameters) run at once. argon2 hashes on
// libuv's thread pool, so the loop should stay free to serve other requests; the goal is a p99 delay under 20 ms.
// In the same run, two references: 8 bare argon2.verify calls at once (what argon2 itself does to the loop, through
// the CPU it takes from the main thread on a small machine) and the loop left idle (what the machine adds).

const { monitorEventLoopDelay } = require('node:perf_hooks')
const Fastify = require('fastify')
const argon2 = require('argon2')
const auth = require('../dist/index.js')
const { DEFAULT_HASH_OPTIONS, PASSWORD, SECRET, makeUsers, median, log, report } = require('./common')

const RUNS = Number(process.env.BENCH_EVENT_LOOP_RUNS ?? 3)
const CONCURRENT = 8

function sleep (ms) {
  return new Promise(resolve => setTimeout(resolve, ms))
}

async function measure (work) {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const start = process.hrtime.bigint()
  await work()
  const ms = Number(process.hrtime.bigint() - start) / 1e6
  histogram.disable()
  return { p99: histogram.percentile(99) / 1e6, max: histogram.max / 1e6, ms }
}

async function main () {
  const users = await makeUsers(DEFAULT_HASH_OPTIONS, CONCURRENT)
  const app = Fastify()
  await app.register(auth, { users, session: { secret: SECRET, cookie: { secure: false } }, hashOptions: DEFAULT_HASH_OPTIONS })
  app.post('/login', async (request) => {
    const user = await request.authenticate(request.body.username, request.body.password)
    await request.login({ user })
    return { id: user.id }
  })
  await app.ready()

  const logins = async () => {
    const responses = await Promise.all(Array.from({ length: CONCURRENT }, (_, i) =>
      app.inject({ method: 'POST', url: '/login', payload: { username: `user${i + 1}`, password: PASSWORD } })))
    for (const response of responses) {
      if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
    }
  }
  const hash = users.byId.get(1).password
  const verifies = async () => {
    const matches = await Promise.all(Array.from({ length: CONCURRENT }, () => argon2.verify(hash, PASSWORD)))
    if (!matches.every(Boolean)) throw new Error('argon2.verify did not match')
  }
  await logins()
  await verifies()

  log(`event loop: ${RUNS} runs of ${CONCURRENT} concurrent logins, ${CONCURRENT} concurrent argon2.verify, idle`)
  const runs = { logins: [], verifies: [], idle: [] }
  for (let run = 0; run < RUNS; run++) {
    const order = run % 2 === 0 ? ['logins', 'verifies'] : ['verifies', 'logins']
    for (const name of order) runs[name].push(await measure(name === 'logins' ? logins : verifies))
    runs.idle.push(await measure(() => sleep(Math.min(runs.logins.at(-1).ms, 2000))))
    log(`  run ${run + 1}/${RUNS}: p99 ${runs.logins.at(-1).p99.toFixed(1)} ms with logins, ` +
      `${runs.verifies.at(-1).p99.toFixed(1)} ms with bare verifies, ${runs.idle.at(-1).p99.toFixed(1)} ms idle`)
  }
  await app.close()
  const summary = (list) => ({ p99Ms: median(list.map(r => r.p99)), maxMs: median(list.map(r => r.max)), ms: median(list.map(r => r.ms)) })
  report({
    section: 'event-loop',
    concurrent: CONCURRENT,
    runs,
    logins: summary(runs.logins),
    verifies: summary(runs.verifies),
    idle: summary(runs.idle)
  })
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
