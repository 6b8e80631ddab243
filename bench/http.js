'use strict'

// Loopback HTTP figures: requests/s and p99 latency from autocannon, against each variant served by its own child
// process (bench/server.js). Variants are interleaved over rounds like the in-process figures.

const { fork } = require('node:child_process')
const path = require('node:path')
const autocannon = require('autocannon')
const { variants } = require('./apps')
const { interleave, startProcesses, figures, log, report } = require('./common')

const ROUNDS = Number(process.env.BENCH_HTTP_ROUNDS ?? 6)
const SECONDS = Number(process.env.BENCH_HTTP_SECONDS ?? 2)
const CONNECTIONS = Number(process.env.BENCH_HTTP_CONNECTIONS ?? 10)
// As in bench/inject.js: a server process can be slow or fast for its whole life, so each variant gets two.
const PROCESSES = Number(process.env.BENCH_HTTP_PROCESSES ?? 2)
// The goals' subjects and baselines; the in-process section also has the reference variants.
const HTTP_VARIANTS = [
  'session-anonymous', 'plugin-anonymous', 'session-by-hand', 'passport', 'plugin-session', 'jwt-by-hand', 'plugin-jwt'
]

function startServer (name) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'server.js'), [name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.once('message', server => resolve({ ...server, child }))
    child.once('exit', code => reject(new Error(`server ${name} exited with ${code}`)))
  })
}

function load (server, seconds) {
  const { request, port, expect } = server
  return autocannon({
    url: `http://127.0.0.1:${port}${request.url}`,
    method: request.method,
    headers: request.headers,
    connections: CONNECTIONS,
    duration: seconds,
    // A response that is not the expected user counts as an error: a fast wrong answer is not a figure.
    expectBody: JSON.stringify({ id: expect })
  })
}

async function main () {
  const names = (process.argv[2]?.split(',') ?? HTTP_VARIANTS).filter(name => name in variants)
  const servers = {}
  try {
    await startProcesses(servers, names, PROCESSES, startServer)
    for (const server of Object.values(servers).flat()) await load(server, 1)
    log(`http: ${names.length} variants × ${PROCESSES} servers, ${ROUNDS} rounds of ${SECONDS} s, ${CONNECTIONS} connections`)
    const results = await interleave(names, ROUNDS, async (name, round) => {
      const result = await load(servers[name][round % PROCESSES], SECONDS)
      const failed = result.errors + result.timeouts + result.non2xx + result.mismatches
      if (failed > 0) throw new Error(`${name}: ${failed} failed requests (errors, timeouts, non-2xx or wrong body)`)
      return { rps: result.requests.average, p99: result.latency.p99 }
    }, round => log(`  round ${round + 1}/${ROUNDS}`))
    report({
      section: 'http',
      rounds: ROUNDS,
      seconds: SECONDS,
      connections: CONNECTIONS,
      ...figures(results, { rps: 'medianRps', p99: 'medianP99Ms' })
    })
  } finally {
    for (const server of Object.values(servers).flat()) {
      server.child.removeAllListeners('exit')
      server.child.disconnect()
    }
  }
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
