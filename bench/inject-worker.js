'use strict'

// One variant of bench/apps.js in a process of its own, timing batches of app.inject requests when bench/inject.js
// asks. A process per variant, because apps that share a process share V8's inline caches and compiled code: in one
// process, the app built first ran 2 to 4 % slower than an identical one built after it, which is the size of the
// differences this bench is about.

const { build } = require('./apps')
const { median } = require('./common')

// inject settles through promises alone, and each request leaves a setImmediate behind (its socket's cleanup). A loop
// that never lets the event loop reach its check phase piles them up, with everything each request held: the heap
// grew by 9 KiB per request and garbage collection became a third of the measured time.
const YIELD_EVERY = 8

function yieldToLoop () {
  return new Promise(resolve => setImmediate(resolve))
}

async function batch (variant, count) {
  const { app, request } = variant
  const times = new Float64Array(count)
  const cpu = process.cpuUsage()
  for (let i = 0; i < count; i++) {
    const start = process.hrtime.bigint()
    await app.inject(request)
    times[i] = Number(process.hrtime.bigint() - start) / 1000
    if (i % YIELD_EVERY === YIELD_EVERY - 1) await yieldToLoop()
  }
  await yieldToLoop()
  const used = process.cpuUsage(cpu)
  return { cpu: (used.user + used.system) / count, wall: median(times) }
}

async function main () {
  const variant = await build(process.argv[2])
  process.on('message', async ({ count }) => {
    process.send(await batch(variant, count))
  })
  process.on('disconnect', () => variant.app.close())
  process.send({ ready: true })
}

main().catch(err => {
  console.error(err)
  process.exit(1)
})
