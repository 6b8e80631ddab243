'use strict'

// Issue 13: the apps of bench/redis-apps.js on a real redis-server of the bench's own (127.0.0.1, no persistence),
// each app served twice: straight to Redis, and through bench/redis-proxy.js, which delays each direction by
// BENCH_REDIS_DELAY ms (1 by default) as a network hop would. Three figures:
// - round trips per request kind, through the proxy (flights and chunks it relayed) with the commands Redis ran
//   (INFO commandstats deltas), counted with a longer delay so that concurrent and sequential commands cannot blur;
// - sequential latency: the median of BENCH_REDIS_REQUESTS requests one after another, per variant and round;
// - throughput: autocannon with BENCH_REDIS_CONNECTIONS connections for BENCH_REDIS_SECONDS s per variant and round.
// BENCH_REDIS_VARIANTS (comma-separated) picks some of the variants.
// Variants are interleaved in a new order each round, and ratios are medians of the per-round ratios.

const { fork, spawn } = require('node:child_process')
const http = require('node:http')
const net = require('node:net')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const autocannon = require('autocannon')
const { createClient } = require('redis')
const { interleave, median, figures, log, report } = require('./common')

const DELAY = Number(process.env.BENCH_REDIS_DELAY ?? 1)
const COUNT_DELAY = 20
const ROUNDS = Number(process.env.BENCH_REDIS_ROUNDS ?? 8)
const REQUESTS = Number(process.env.BENCH_REDIS_REQUESTS ?? 100)
const SECONDS = Number(process.env.BENCH_REDIS_SECONDS ?? 2)
const CONNECTIONS = Number(process.env.BENCH_REDIS_CONNECTIONS ?? 32)
const VARIANTS = process.env.BENCH_REDIS_VARIANTS?.split(',') ?? ['session-by-hand', 'passport', 'plugin-session', 'jwt-by-hand', 'plugin-jwt']
const VIAS = ['proxy', 'straight']

function freePort () {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

async function startRedis () {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'fah-bench-redis-'))
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no',
    '--dir', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
  await new Promise((resolve, reject) => {
    let output = ''
    child.stdout.on('data', chunk => {
      output += chunk
      if (output.includes('Ready to accept connections')) resolve()
    })
    child.once('error', error => reject(new Error(`redis-server could not start (is it installed?): ${error.message}`)))
    child.once('exit', code => reject(new Error(`redis-server exited with ${code}:\n${output}`)))
  })
  child.stdout.resume()
  return { port, stop: () => { child.kill('SIGTERM'); fs.rmSync(dir, { recursive: true, force: true }) } }
}

function forked (file, args) {
  return new Promise((resolve, reject) => {
    const child = fork(path.join(__dirname, file), args, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.once('message', message => resolve({ ...message, child }))
    child.once('exit', code => reject(new Error(`${file} ${args.join(' ')} exited with ${code}`)))
  })
}

function ask (proxy, message) {
  return new Promise(resolve => {
    proxy.child.once('message', resolve)
    proxy.child.send(message)
  })
}

const agent = new http.Agent({ keepAlive: true, maxSockets: 1 })

function call (port, method, url, headers = {}) {
  return new Promise((resolve, reject) => {
    const request = http.request({ host: '127.0.0.1', port, method, path: url, headers, agent }, response => {
      let body = ''
      response.setEncoding('utf8')
      response.on('data', chunk => { body += chunk })
      response.on('end', () => resolve({ status: response.statusCode, headers: response.headers, body }))
    })
    request.on('error', reject)
    request.end()
  })
}

/** Logs in on `server` and resolves to the headers that authenticate as that login. */
async function login (server) {
  const response = await call(server.port, 'POST', '/login')
  if (response.status !== 200) throw new Error(`${server.name}: login answered ${response.status} ${response.body}`)
  if (server.jwt) return { authorization: `Bearer ${JSON.parse(response.body).token}` }
  const cookie = [response.headers['set-cookie']].flat().find(value => value?.startsWith('sessionId='))
  if (cookie === undefined) throw new Error(`${server.name}: login set no session cookie`)
  return { cookie: cookie.split(';')[0] }
}

async function expectUser (server, headers, id) {
  const response = await call(server.port, 'GET', '/me', headers)
  if (response.status !== 200 || JSON.parse(response.body).id !== id) {
    throw new Error(`${server.name}: GET /me answered ${response.status} ${response.body}, expected id ${id}`)
  }
  if (id !== null && response.headers['set-cookie'] !== undefined) throw new Error(`${server.name}: GET /me set a cookie`)
}

function commandStats (info) {
  const calls = {}
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls[match[1]] = Number(match[2])
  return calls
}

/** One request through the proxy: its flights, chunks and the commands Redis ran for it. */
async function counted (proxy, inspect, run) {
  const before = commandStats(await inspect.info('commandstats'))
  proxy.child.send('reset')
  await run()
  const { flights, chunks } = await ask(proxy, 'counts')
  const after = commandStats(await inspect.info('commandstats'))
  const commands = Object.entries(after)
    .filter(([name, calls]) => name !== 'info' && calls > (before[name] ?? 0))
    .map(([name, calls]) => `${calls - (before[name] ?? 0)} ${name.toUpperCase()}`)
  return { flights, chunks, commands: commands.join(', ') }
}

async function countRoundTrips (servers, proxy, inspect) {
  proxy.child.send({ delay: COUNT_DELAY })
  const counts = {}
  for (const name of VARIANTS) {
    const server = servers[name].proxy
    const headers = await login(server)
    await expectUser(server, headers, 1)
    counts[name] = {
      anonymous: await counted(proxy, inspect, () => expectUser(server, {}, null)),
      authenticated: await counted(proxy, inspect, () => expectUser(server, headers, 1)),
      login: await counted(proxy, inspect, () => login(server)),
      logout: await counted(proxy, inspect, async () => {
        const response = await call(server.port, 'POST', '/logout', headers)
        if (response.status !== 200) throw new Error(`${name}: logout answered ${response.status}`)
      })
    }
    await expectUser(server, headers, null)
  }
  proxy.child.send({ delay: DELAY })
  return counts
}

async function sequential (server, headers) {
  const times = []
  for (let i = 0; i < REQUESTS; i++) {
    const start = process.hrtime.bigint()
    await call(server.port, 'GET', '/me', headers)
    times.push(Number(process.hrtime.bigint() - start) / 1e6)
  }
  return median(times)
}

async function throughput (server, headers) {
  const result = await autocannon({
    url: `http://127.0.0.1:${server.port}/me`,
    headers,
    connections: CONNECTIONS,
    duration: SECONDS,
    expectBody: JSON.stringify({ id: 1 })
  })
  const failed = result.errors + result.timeouts + result.non2xx + result.mismatches
  if (failed > 0) throw new Error(`${server.name}: ${failed} failed requests under load`)
  return result.requests.average
}

async function main () {
  const redis = await startRedis()
  const children = []
  try {
    const proxy = await forked('redis-proxy.js', [String(redis.port), String(DELAY)])
    children.push(proxy.child)
    const inspect = createClient({ socket: { host: '127.0.0.1', port: redis.port } })
    await inspect.connect()
    const servers = {}
    for (const name of VARIANTS) {
      servers[name] = {}
      for (const via of VIAS) {
        const server = await forked('redis-apps.js', [name, String(via === 'proxy' ? proxy.port : redis.port)])
        children.push(server.child)
        servers[name][via] = server
      }
    }
    log(`redis: counting round trips (proxy delay ${COUNT_DELAY} ms each way)`)
    const roundTrips = await countRoundTrips(servers, proxy, inspect)
    const credentials = {}
    for (const name of VARIANTS) {
      for (const via of VIAS) {
        const server = servers[name][via]
        credentials[`${name} ${via}`] = await login(server)
        await expectUser(server, credentials[`${name} ${via}`], 1)
        await sequential(server, credentials[`${name} ${via}`])
      }
    }
    const keys = VARIANTS.flatMap(name => VIAS.map(via => `${name} ${via}`))
    const serverOf = key => { const [name, via] = key.split(' '); return servers[name][via] }
    log(`redis: ${ROUNDS} rounds, ${REQUESTS} sequential requests and ${SECONDS} s of autocannon (${CONNECTIONS} connections) per variant, proxy delay ${DELAY} ms each way`)
    const results = await interleave(keys, ROUNDS, async key => ({
      latency: await sequential(serverOf(key), credentials[key]),
      rps: await throughput(serverOf(key), credentials[key])
    }), round => log(`  round ${round + 1}/${ROUNDS}`))
    await inspect.destroy()
    report({ section: 'redis', delay: DELAY, rounds: ROUNDS, requests: REQUESTS, seconds: SECONDS, connections: CONNECTIONS, roundTrips, ...figures(results, { latency: 'medianLatencyMs', rps: 'medianRps' }) })
  } finally {
    for (const child of children) {
      child.removeAllListeners('exit')
      if (child.connected) child.disconnect()
    }
    redis.stop()
  }
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
