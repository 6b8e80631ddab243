'use strict'

// A TCP proxy in front of redis-server that delays every chunk by a few ms each way, as a network hop does, run as a
// process of its own (bench/redis.js forks it) so its timers do not share an event loop with the load generator.
// It counts what it relays from clients to Redis: chunks (node-redis writes the commands issued together in one),
// and flights: chunks that arrive within `delay` of the first of a group are one round trip of latency, since a
// command that needs another's answer cannot leave before that answer came back, 2 × delay later.
// Messages from the parent: { delay } sets the delay, 'reset' forgets the counts, 'counts' asks for them.

const net = require('node:net')
const { performance } = require('node:perf_hooks')

const upstreamPort = Number(process.argv[2])
let delay = Number(process.argv[3] ?? 1)
let arrivals = []

function flights () {
  let count = 0
  let start = -Infinity
  for (const at of arrivals) {
    if (at - start > delay) {
      count++
      start = at
    }
  }
  return count
}

const server = net.createServer(client => {
  const upstream = net.connect(upstreamPort, '127.0.0.1')
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  client.on('data', chunk => {
    arrivals.push(performance.now())
    setTimeout(() => upstream.write(chunk), delay)
  })
  upstream.on('data', chunk => { setTimeout(() => client.write(chunk), delay) })
  const close = () => {
    client.destroy()
    upstream.destroy()
  }
  client.on('close', close).on('error', close)
  upstream.on('close', close).on('error', close)
})

process.on('message', message => {
  if (message === 'reset') arrivals = []
  else if (message === 'counts') process.send({ chunks: arrivals.length, flights: flights() })
  else if (typeof message?.delay === 'number') delay = message.delay
})
process.on('disconnect', () => process.exit(0))

server.listen(0, '127.0.0.1', () => process.send({ port: server.address().port }))
