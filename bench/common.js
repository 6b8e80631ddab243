'use strict'

// Shared by every bench section: the user store, the secrets, argon2 parameters and the statistics.

const argon2 = require('argon2')

const SECRET = 'a-bench-secret-that-is-32-chars-long!!'
const JWT_SECRET = 'a-bench-jwt-secret-that-is-32-chars-long!!'
const PASSWORD = 'correct horse battery staple'

/** argon2's own defaults (argon2id, 64 MiB, t=3, p=4): the figures about argon2 use what users get. */
const DEFAULT_HASH_OPTIONS = {}
/**
 * For the figures where argon2 is not the subject: logins must not drown what is measured. The cheapest the plugin
 * accepts (OWASP's m=9216 t=4 p=1 row): it refuses anything weaker.
 */
const CHEAP_HASH_OPTIONS = { memoryCost: 9216, timeCost: 4, parallelism: 1 }

/** The cookie options the plugin gives @fastify/session, with `secure` off because the bench speaks plain HTTP. */
const COOKIE = { httpOnly: true, sameSite: 'lax', path: '/', secure: false }
/** The @fastify/session options the plugin uses by default; every session baseline gets the same. */
function sessionOptions (store) {
  return { secret: SECRET, saveUninitialized: false, rolling: false, cookie: { ...COOKIE }, store }
}

/** A user store as an app would write it over an in-process cache: async, one Map lookup per call. */
class Users {
  constructor () {
    this.byId = new Map()
    this.byName = new Map()
    this.findById = async (id) => this.byId.get(Number(id)) ?? null
    this.findByUsername = async (username) => this.byName.get(username) ?? null
  }

  add (user) {
    this.byId.set(user.id, user)
    this.byName.set(user.username, user)
    return user
  }
}

/** Users 1..count with the same password, hashed once with `hashOptions` (salts differ per user only if asked). */
async function makeUsers (hashOptions, count = 1) {
  const users = new Users()
  const password = await argon2.hash(PASSWORD.normalize('NFC'), { ...hashOptions, type: argon2.argon2id })
  for (let id = 1; id <= count; id++) users.add({ id, username: `user${id}`, password, isActive: true })
  return users
}

function median (values) {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

/** Fisher-Yates: the order of variants inside a round changes from round to round, so no one always goes first. */
function shuffled (items) {
  const copy = [...items]
  for (let i = copy.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1))
    const tmp = copy[i]
    copy[i] = copy[j]
    copy[j] = tmp
  }
  return copy
}

/**
 * Runs `measure(variant)` for every variant, `rounds` times, in a new order each round. Returns, per variant, the
 * list of its figures, one per round, in round order (so figures of one round can be paired).
 */
async function interleave (variants, rounds, measure, onRound) {
  const results = Object.fromEntries(variants.map(name => [name, []]))
  for (let round = 0; round < rounds; round++) {
    for (const name of shuffled(variants)) results[name][round] = await measure(name, round)
    if (onRound) onRound(round)
  }
  return results
}

/**
 * The ratio of `subject` to `baseline`: the median of the per-round ratios. Pairing by round cancels the slow drift
 * of a shared machine's load, which medians of each column alone would not.
 */
function pairedRatio (subject, baseline) {
  return median(subject.map((value, round) => value / baseline[round]))
}

/**
 * Starts `count` processes for each variant, one after another, into `started[name]`. Filled as they start, so the
 * caller's cleanup reaches every process already running when a later one fails to start.
 */
async function startProcesses (started, names, count, start) {
  for (const name of names) {
    started[name] = []
    for (let i = 0; i < count; i++) started[name].push(await start(name))
  }
}

/** From `interleave`'s results (per variant, one record a round), the figures of one field, per variant. */
function column (results, key) {
  return Object.fromEntries(Object.entries(results).map(([name, rounds]) => [name, rounds.map(record => record[key])]))
}

/** The median of each variant's figures. */
function medians (figures) {
  return Object.fromEntries(Object.entries(figures).map(([name, values]) => [name, median(values)]))
}

/**
 * `interleave`'s results as a section reports them: for each `field: medianKey` of `fields`, the field's figures per
 * variant under `field`, and their medians under `medianKey`.
 */
function figures (results, fields) {
  const lists = {}
  const middles = {}
  for (const [field, medianKey] of Object.entries(fields)) {
    lists[field] = column(results, field)
    middles[medianKey] = medians(lists[field])
  }
  return { ...lists, ...middles }
}

function log (...args) {
  process.stderr.write(args.join(' ') + '\n')
}

/** Hands a section's result to bench/run.js, or prints it when the section runs on its own. */
function report (result) {
  if (typeof process.send === 'function') process.send(result)
  else process.stdout.write(JSON.stringify(result, null, 2) + '\n')
}

module.exports = {
  SECRET,
  JWT_SECRET,
  PASSWORD,
  DEFAULT_HASH_OPTIONS,
  CHEAP_HASH_OPTIONS,
  COOKIE,
  sessionOptions,
  Users,
  makeUsers,
  median,
  shuffled,
  interleave,
  pairedRatio,
  startProcesses,
  medians,
  figures,
  log,
  report
}
