'use strict'

// What the two things the session backend adds to every authenticated request cost on their own, done the way the
// plugin does them (its built modules, not copies): the store get of the login record, through the plugin's timed
// store wrapper (answered at once by MemoryStore, so without a promise), and the auth hash check (cached HMAC, then a
// constant-time compare).
// findById, which every variant does, is the yardstick.

const { MemoryStore } = require('@fastify/session')
const { storeCall, storeGet, timedStore } = require('../dist/store.js')
const { createAuthHasher, sameAuthHash } = require('../dist/login/auth-hash.js')
const { SECRET, CHEAP_HASH_OPTIONS, makeUsers, interleave, medians, log, report } = require('./common')

const ROUNDS = Number(process.env.BENCH_MICRO_ROUNDS ?? 15)
const OPS = Number(process.env.BENCH_MICRO_OPS ?? 50_000)

async function main () {
  const users = await makeUsers(CHEAP_HASH_OPTIONS)
  const user = users.byId.get(1)
  const store = timedStore(new MemoryStore(), 5000)
  const key = 'auth-login:AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA'
  await storeCall(store, 'set', key, { cookie: {}, userId: 1 })
  const authHash = createAuthHasher(SECRET, u => u.password, u => u.id)
  const stored = authHash(user)

  const ops = {
    'users.findById': async () => {
      if ((await users.findById(1)) !== user) throw new Error('findById')
    },
    'login record get': async () => {
      if (storeGet(store, key, record => record.userId) !== 1) throw new Error('record')
    },
    'auth hash check': async () => {
      if (!sameAuthHash(stored, authHash(user))) throw new Error('auth hash')
    }
  }
  const time = async (op) => {
    const start = process.cpuUsage()
    for (let i = 0; i < OPS; i++) await op()
    const used = process.cpuUsage(start)
    return (used.user + used.system) * 1000 / OPS
  }
  for (const op of Object.values(ops)) await time(op)
  log(`micro: ${Object.keys(ops).length} operations, ${ROUNDS} rounds of ${OPS}`)
  const perRound = await interleave(Object.keys(ops), ROUNDS, name => time(ops[name]))
  report({
    section: 'micro',
    rounds: ROUNDS,
    ops: OPS,
    perRound,
    medianNs: medians(perRound)
  })
}

main().catch(err => {
  console.error(err)
  process.exitCode = 1
})
