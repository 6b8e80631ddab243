'use strict'

// In-process figures: the CPU time one request costs, through app.inject (no sockets, no HTTP parser), so what is
// left is Fastify, the plugins and the route. CPU time rather than wall time, because on a shared machine wall time
// also counts the time other processes held the cores.

const { build, variants } = require('./apps')
const { interleave, median, log, report } = require('./common')

const ROUNDS = Number(process.env.BENCH_INJECT_ROUNDS ?? 15)
const REQUESTS = Number(process.env.BENCH_INJECT_REQUESTS ?? 1000)
const WARMUP = Number(process.env.BENCH_INJECT_WARMUP ?? 3000)

async function batch (variant, count) {
  const { app, request } = variant
  const start = process.cpuUsage()
  for (let i = 0; i < count; i++) await app.inject(request)
  const used = process.cpuUsage(start)
  return (used.user + used.system) / count
}

async function main () {
  const names = (process.argv[2]?.split(',') ?? Object.keys(variants)).filter(name => name in variants)
  const apps = {}
  for (const name of names) apps[name] = await build(name)
  for (const name of names) await batch(apps[name], WARMUP)
  log(`inject: ${names.length} variants, ${ROUNDS} rounds of ${REQUESTS} requests`)
  const perRound = await interleave(names, ROUNDS, name => batch(apps[name], REQUESTS),
    round => log(`  round ${round + 1}/${ROUNDS}`))
  for (const name of names) await apps[name].app.close()
  report({
    section: 'inject',
    rounds: ROUNDS,
    requests: REQUESTS,
    perRound,
    medianUs: Object.fromEntries(names.map(name => [name, median(perRound[name])]))
  })
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
