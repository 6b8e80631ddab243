'use strict'

// In-process figures: what one request costs through app.inject (no sockets, no HTTP parser), so what is left is
// Fastify, the plugins and the route. Each variant runs in its own process (bench/inject-worker.js); this one asks
// them in turn for a batch, round after round. Two figures per batch:
// - CPU time per request (process.cpuUsage over the batch): everything, garbage collection included, but on a
//   shared machine it also moves with what other processes do to the caches;
// - the median of the requests' own times: leaves out the requests that a collection or the scheduler interrupted,
//   the steadiest figure on a busy machine.

const { fork } = require('node:child_process')
const path = require('node:path')
const { variants } = require('./apps')
const { interleave, startProcesses, figures, log, report } = require('./common')

// Many short rounds rather than a few long ones: the machine's speed drifts within seconds (a noisy neighbour), and
// only variants measured close together in time share it. With 18 rounds of 1000 requests, two identical apps
// measured up to 30 % apart; with 120 rounds of 150, within about 5 % (the noise-floor row of the report).
const ROUNDS = Number(process.env.BENCH_INJECT_ROUNDS ?? 120)
const REQUESTS = Number(process.env.BENCH_INJECT_REQUESTS ?? 150)
const WARMUP = Number(process.env.BENCH_INJECT_WARMUP ?? 3000)
// A process can stay slow or fast for its whole life (the same variant's median request moved between 57 and 135 us
// from one process to the next), which interleaving inside one process cannot cancel: each variant gets several
// processes, and round r asks process r mod PROCESSES of every variant.
const PROCESSES = Number(process.env.BENCH_INJECT_PROCESSES ?? 3)

function startWorker (name) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, 'inject-worker.js'), [name], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const onExit = code => reject(new Error(`inject worker ${name} exited with ${code}`))
    child.once('exit', onExit)
    child.once('message', () => resolve({
      child,
      batch (count) {
        return new Promise((resolve, reject) => {
          child.once('message', resolve)
          child.once('exit', onExit)
          child.send({ count })
        }).finally(() => child.removeListener('exit', onExit))
      }
    }))
  })
}

async function main () {
  const names = (process.argv[2]?.split(',') ?? Object.keys(variants)).filter(name => name in variants)
  const workers = {}
  try {
    await startProcesses(workers, names, PROCESSES, startWorker)
    for (const name of names) for (const worker of workers[name]) await worker.batch(WARMUP)
    log(`inject: ${names.length} variants × ${PROCESSES} processes, ${ROUNDS} rounds of ${REQUESTS} requests`)
    const perRound = await interleave(names, ROUNDS, (name, round) => workers[name][round % PROCESSES].batch(REQUESTS),
      round => { if ((round + 1) % 10 === 0 || round + 1 === ROUNDS) log(`  round ${round + 1}/${ROUNDS}`) })
    report({
      section: 'inject',
      rounds: ROUNDS,
      requests: REQUESTS,
      ...figures(perRound, { cpu: 'medianCpuUs', wall: 'medianWallUs' })
    })
  } finally {
    for (const worker of Object.values(workers).flat()) worker.child.disconnect()
  }
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
