'use strict'

// `npm run bench [-- section ...]`: runs each section in a process of its own (so argon2's threads, one section's
// garbage and JIT state do not leak into the next), then prints every goal as a ratio against the baseline measured in
// the same run, as a Markdown table. Progress goes to stderr, the table to stdout.

const { fork } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { pairedRatio } = require('./common')

const SECTIONS = {
  inject: { file: 'inject.js' },
  http: { file: 'http.js' },
  argon2: { file: 'argon2.js' },
  'event-loop': { file: 'event-loop.js' },
  memory: { file: 'memory.js', execArgv: ['--expose-gc'] },
  micro: { file: 'micro.js' },
  redis: { file: 'redis.js' }
}

function runSection (name) {
  const { file, execArgv = [] } = SECTIONS[name]
  return new Promise((resolve, reject) => {
    let result
    const child = fork(path.join(__dirname, file), [], { execArgv, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    child.on('message', message => { result = message })
    child.on('exit', code => {
      if (code === 0 && result !== undefined) resolve(result)
      else reject(new Error(`bench section ${name} failed (exit code ${code})`))
    })
  })
}

const fixed = (value, digits = 2) => Number.isFinite(value) ? value.toFixed(digits) : 'n/a'
const x = value => Number.isFinite(value) ? `${fixed(value)}x` : 'n/a'

function within (value, goal) {
  if (!Number.isFinite(value)) return ''
  return goal(value) ? 'met' : '**missed**'
}

const GOALS = [
  ['authenticated request, session backend', 'plugin-session', 'session-by-hand', '@fastify/session by hand', '≤ 1.05x', v => v <= 1.05],
  ['authenticated request, session backend', 'plugin-session', 'passport', '@fastify/passport, same session options', '≤ 0.95x', v => v <= 0.95],
  ['authenticated request, JWT backend', 'plugin-jwt', 'jwt-by-hand', '@fastify/jwt by hand', '≤ 1.05x', v => v <= 1.05],
  ['anonymous request', 'plugin-anonymous', 'session-anonymous', 'Fastify + @fastify/session', '≤ 1.05x', v => v <= 1.05]
]

/** Not goals: where the plugin's cost over its baselines goes. */
const BREAKDOWN = [
  ['the noise floor: two identical apps (@fastify/session by hand), measured as two variants', 'session-by-hand-again', 'session-by-hand'],
  ['the signature cache: the plugin with `session.cacheSize: 0` over the plugin', 'plugin-session-uncached', 'plugin-session'],
  ['the session\'s keys: @fastify/session by hand with the plugin\'s 2 session keys', 'session-by-hand-same-keys', 'session-by-hand'],
  ['the plugin\'s own code, session backend', 'plugin-session', 'session-by-hand-same-keys'],
  ['JWT backend against @fastify/jwt by hand with its verification cache on', 'plugin-jwt', 'jwt-by-hand-cached']
]

function ratioOf (section, key, subject, baseline, invert = false) {
  const a = section?.[key]?.[subject]
  const b = section?.[key]?.[baseline]
  if (a === undefined || b === undefined) return NaN
  return invert ? pairedRatio(b, a) : pairedRatio(a, b)
}

/** Rows of the results table: [figure, baseline, goal, in-process median, in-process CPU, HTTP, HTTP p99, verdict]. */
function perRequestRows (inject, http) {
  return GOALS.map(([figure, subject, baseline, baselineName, goal, meets]) => {
    const wall = ratioOf(inject, 'wall', subject, baseline)
    const cpu = ratioOf(inject, 'cpu', subject, baseline)
    // Throughput as a cost: the baseline's req/s over the plugin's, so that above 1 means slower, like the others.
    const rps = ratioOf(http, 'rps', subject, baseline, true)
    const p99 = ratioOf(http, 'p99', subject, baseline)
    const verdict = Number.isFinite(wall) ? within(wall, meets) : (inject ? 'pending' : '')
    return [figure, baselineName, goal, x(wall), x(cpu), x(rps), x(p99), verdict]
  })
}

function breakdownRows (inject) {
  return BREAKDOWN.map(([what, subject, baseline]) =>
    [what, x(ratioOf(inject, 'wall', subject, baseline)), x(ratioOf(inject, 'cpu', subject, baseline))])
}

function table (header, rows) {
  return [
    `| ${header.join(' | ')} |`,
    `|${header.map(() => '---').join('|')}|`,
    ...rows.map(row => `| ${row.join(' | ')} |`)
  ].join('\n')
}

/** The Redis section (issue 13): [figure, subject, baseline, goal, meets]. */
const REDIS_GOALS = [
  ['session backend', 'plugin-session', 'session-by-hand', '@fastify/session by hand', '≤ 1.05x', v => v <= 1.05],
  ['session backend', 'plugin-session', 'passport', '@fastify/passport', '< 1x', v => v < 1],
  ['@fastify/passport', 'passport', 'session-by-hand', '@fastify/session by hand', '(reference)', () => true],
  ['JWT backend, `loginStore` on Redis', 'plugin-jwt', 'jwt-by-hand', '@fastify/jwt by hand + a Redis revocation check', '≤ 1.05x', v => v <= 1.05]
]

function redisReport (redis, out) {
  const kinds = ['anonymous', 'authenticated', 'login', 'logout']
  out.push(table(['round trips (flights) / commands, through the proxy', ...kinds],
    Object.entries(redis.roundTrips).map(([name, counts]) =>
      [name, ...kinds.map(kind => `${counts[kind].flights}${counts[kind].commands === '' ? '' : `: ${counts[kind].commands}`}`)])))
  out.push('')
  const rows = []
  for (const [figure, subject, baseline, baselineName, goal, meets] of REDIS_GOALS) {
    const cells = []
    let verdict = ''
    if (redis.latency[`${subject} proxy`] === undefined || redis.latency[`${baseline} proxy`] === undefined) continue
    for (const via of ['proxy', 'straight']) {
      const latency = pairedRatio(redis.latency[`${subject} ${via}`], redis.latency[`${baseline} ${via}`])
      const rps = pairedRatio(redis.rps[`${baseline} ${via}`], redis.rps[`${subject} ${via}`])
      cells.push(x(latency), x(rps))
      if (via === 'proxy') verdict = [latency, rps].every(meets) ? 'met' : '**missed**'
    }
    rows.push([figure, baselineName, goal, ...cells, goal === '(reference)' ? '' : verdict])
  }
  out.push(table(['figure', 'baseline', 'goal', `latency, proxy (${redis.delay} ms each way)`, 'throughput cost (1 / req/s), proxy',
    'latency, straight', 'throughput cost, straight', 'verdict (proxy)'], rows))
  out.push('')
  out.push(`Redis, medians (sequential latency ms / req/s with ${redis.connections} connections): ` + Object.keys(redis.medianLatencyMs)
    .map(name => `${name} ${fixed(redis.medianLatencyMs[name])} / ${Math.round(redis.medianRps[name])}`).join(', ') + '.')
  out.push('')
}

function report (results) {
  const { inject, http, argon2, memory, micro, redis } = results
  const eventLoop = results['event-loop']
  const out = []
  out.push(`Machine: ${os.cpus()[0]?.model ?? 'unknown CPU'}, ${os.availableParallelism()} cores, ` +
    `${Math.round(os.totalmem() / 2 ** 30)} GiB, Node ${process.version}, ${os.platform()} ${os.release()}; ` +
    `load average at the end ${os.loadavg().map(l => l.toFixed(1)).join(' ')}.`)
  out.push('')
  out.push('Ratios are the plugin\'s cost over the baseline\'s (below 1: cheaper), medians of the per-round ratios.')
  out.push('')
  if (inject || http) {
    out.push(table(['figure', 'baseline', 'goal', 'in-process, median request', 'in-process, CPU per request',
      'HTTP, 1 / req/s', 'HTTP, p99', 'verdict (in-process median)'], perRequestRows(inject, http)))
    out.push('')
  }
  if (inject) {
    out.push(table(['where the session backend\'s cost goes (not goals)', 'in-process, median request', 'in-process, CPU per request'],
      breakdownRows(inject)))
    out.push('')
  }
  if (argon2) {
    const ratios = (subject, baseline) => ['cpu', 'wall'].map(clock => pairedRatio(argon2[clock][subject], argon2[clock][baseline]))
    const rows = [
      ['`authenticate` (correct password)', 'bare `argon2.verify`, same hash', '≤ 1.03x', ratios('authenticate', 'argon2.verify'), v => v <= 1.03],
      ['failure: unknown user', 'wrong password', '0.9x to 1.1x', ratios('unknown user', 'wrong password'), v => v >= 0.9 && v <= 1.1],
      ['failure: inactive user', 'wrong password', '0.9x to 1.1x', ratios('inactive user', 'wrong password'), v => v >= 0.9 && v <= 1.1]
    ]
    out.push(table([`figure (argon2 ${argon2.parameters})`, 'baseline', 'goal', 'CPU time', 'wall time', 'CPU time'],
      rows.map(([figure, baseline, goal, [cpu, wall], meets]) => [figure, baseline, goal, x(cpu), x(wall), within(cpu, meets)])))
    out.push('')
    out.push('argon2 per call (median ms, CPU / wall): ' + Object.keys(argon2.medianCpuMs)
      .map(name => `${name} ${fixed(argon2.medianCpuMs[name], 0)} / ${fixed(argon2.medianWallMs[name], 0)}`).join(', ') + '.')
    out.push('')
  }
  if (eventLoop || memory) {
    const rows = []
    if (eventLoop) {
      rows.push([`event-loop delay p99, ${eventLoop.concurrent} logins at once`, '< 20 ms',
        `${fixed(eventLoop.logins.p99Ms, 1)} ms (bare argon2.verify ×${eventLoop.concurrent}: ${fixed(eventLoop.verifies.p99Ms, 1)} ms; idle: ${fixed(eventLoop.idle.p99Ms, 1)} ms)`,
        within(eventLoop.logins.p99Ms, v => v < 20)])
    }
    if (memory) {
      rows.push([`heap after ${memory.cycles} login/logout cycles`, '≤ 1.10x the start',
        `${x(memory.heapRatio)} (${fixed(memory.start.heap / 2 ** 20, 1)} → ${fixed(memory.end.heap / 2 ** 20, 1)} MiB)`,
        within(memory.heapRatio, v => v <= 1.1)])
      rows.push([`session store entries after ${memory.cycles} cycles`, 'back to the start',
        `${memory.start.entries} → ${memory.end.entries}`, memory.end.entries <= memory.start.entries ? 'met' : '**missed**'])
    }
    out.push(table(['figure', 'goal', 'measured', 'verdict'], rows))
    out.push('')
  }
  if (inject) {
    out.push('In-process, µs per request (median request / CPU per request; absolute figures vary between runs on a ' +
      'shared machine): ' + Object.keys(inject.medianWallUs)
      .map(name => `${name} ${fixed(inject.medianWallUs[name], 1)} / ${fixed(inject.medianCpuUs[name], 1)}`).join(', ') + '.')
    out.push('')
  }
  if (http) {
    out.push('HTTP (median req/s, p99 ms): ' + Object.keys(http.medianRps)
      .map(name => `${name} ${Math.round(http.medianRps[name])} / ${http.medianP99Ms[name]}`).join(', ') + '.')
    out.push('')
  }
  if (redis) redisReport(redis, out)
  if (micro) {
    out.push('What the session backend adds per authenticated request, alone (median ns): ' +
      Object.entries(micro.medianNs).map(([name, ns]) => `${name} ${Math.round(ns)}`).join(', ') + '.')
    out.push('')
  }
  return out.join('\n')
}

async function main () {
  if (!fs.existsSync(path.join(__dirname, '..', 'dist', 'index.js'))) {
    throw new Error('dist/ is missing: run `npm run build` first')
  }
  const wanted = process.argv.slice(2)
  const unknown = wanted.filter(name => !(name in SECTIONS))
  if (unknown.length > 0) throw new Error(`unknown section(s) ${unknown.join(', ')}; known: ${Object.keys(SECTIONS).join(', ')}`)
  const names = wanted.length > 0 ? wanted : Object.keys(SECTIONS)
  const results = {}
  const began = Date.now()
  for (const name of names) {
    const start = Date.now()
    process.stderr.write(`== ${name}\n`)
    results[name] = await runSection(name)
    process.stderr.write(`== ${name} done in ${((Date.now() - start) / 1000).toFixed(0)} s\n`)
  }
  process.stderr.write(`== all done in ${((Date.now() - began) / 1000).toFixed(0)} s\n\n`)
  process.stdout.write(report(results) + '\n')
}

main().catch(err => {
  console.error(err.message)
  process.exitCode = 1
})
