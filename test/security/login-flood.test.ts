// Row 19, a flood of logins: argon2 runs on a few lanes and the rest wait in a queue of at most `maxQueuedHashes`.
// Past it a login is refused at once with 503 FST_AUTH_BUSY: no argon2 work, no session, no login, and the same
// refusal whoever the username names, so the refusal tells nothing about which accounts exist. argon2's verify is
// held here while the queue fills, so what is refused does not depend on how fast the machine hashes.
import t from 'tap'
import argon2 = require('argon2')
import { availableParallelism } from 'node:os'
import type { FastifyRequest, LightMyRequestResponse } from 'fastify'
import { passwordsOf } from '../../lib/passwords/passwords'
import { TEST_HASH_OPTIONS, TestUsers, build, cookieFrom } from '../helper'

/** As cheap as the other tests' parameters, with as many lanes as there are cores: one argon2 call at a time. */
const ONE_AT_A_TIME = {
  ...TEST_HASH_OPTIONS,
  parallelism: availableParallelism(),
  memoryCost: Math.max(TEST_HASH_OPTIONS.memoryCost, 8 * availableParallelism())
}
const MAX_QUEUED = 2
const BUSY = { statusCode: 503, code: 'FST_AUTH_BUSY', error: 'Service Unavailable', message: 'The server is busy hashing passwords: try again later' }

const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

/**
 * Holds every argon2.verify the plugin starts until `release()`, recording its digest: the verify in the slot stays
 * busy, so the queue behind it fills exactly as the test sends logins. Verifies then run for real.
 */
function holdVerifies (t: tap.Test): { started: string[], release: () => void } {
  const module = argon2 as unknown as { verify: typeof argon2.verify }
  const original = module.verify
  const started: string[] = []
  let release!: () => void
  const released = new Promise<void>(resolve => { release = resolve })
  module.verify = async function heldVerify (digest, password, options) {
    started.push(digest)
    await released
    return original(digest, password, options)
  }
  t.teardown(() => {
    module.verify = original
    release()
  })
  return { started, release }
}

/** A user store whose lookups can be held, to let the queue fill while a login is between its lookup and its verify. */
class HeldUsers extends TestUsers {
  hold: Promise<void> | undefined

  override findByUsername = async (username: string) => {
    this.calls.findByUsername++
    await this.hold
    for (const user of this.byId.values()) if (user.username === username) return user
    return undefined
  }
}

async function setup (t: tap.Test, users = new TestUsers()) {
  const failures: string[] = []
  const { app } = await build(t, {
    users,
    plugin: {
      hashOptions: ONE_AT_A_TIME,
      maxQueuedHashes: MAX_QUEUED,
      onLoginFailed: ({ reason }: { reason: string }) => { failures.push(reason) }
    }
  })
  const { hasher } = passwordsOf({ server: app } as unknown as FastifyRequest)
  t.equal(hasher.concurrency, 1, 'one argon2 call at a time')
  // Hashed by the app itself, with its parameters: no login below needs a rehash, which would queue too.
  const hash = await app.hashPassword('alice-pw')
  users.add({ id: 1, username: 'alice', password: hash })
  users.add({ id: 2, username: 'bob', password: await app.hashPassword('bob-pw') })
  users.add({ id: 3, username: 'inactive', password: hash, isActive: false })
  users.add({ id: 4, username: 'nohash' })
  const login = (username: string, password: string) =>
    app.inject({ method: 'POST', url: '/login', payload: { username, password } })
  return { app, users, hasher, failures, login }
}

/** Waits (a bounded number of ticks) until `ready()` holds. */
async function until (ready: () => boolean): Promise<void> {
  for (let i = 0; i < 1000 && !ready(); i++) await tick()
  if (!ready()) throw new Error('the condition never held')
}

/** What a client can compare between two answers: all but the Date header. */
function observable (response: LightMyRequestResponse) {
  const { date: _date, ...headers } = response.headers
  return { status: response.statusCode, body: response.body, headers }
}

t.test('a burst past the queue: exactly the excess get 503 FST_AUTH_BUSY without a session, then the queue drains', async t => {
  const { app, hasher, login } = await setup(t)
  const held = holdVerifies(t)
  const attempts: Array<[string, string, number]> = [
    ['alice', 'alice-pw', 200], ['alice', 'wrong', 401], ['nobody', 'alice-pw', 401], ['bob', 'bob-pw', 200]
  ]
  const burst = Array.from({ length: 12 }, (_, i) => attempts[i % attempts.length] as [string, string, number])
  const settled: LightMyRequestResponse[] = []
  const pending = burst.map(([username, password]) => login(username, password).then(response => {
    settled.push(response)
    return response
  }))
  // One verify in the slot, two queued: the other nine are refused while argon2 is still held.
  const refusedCount = burst.length - 1 - MAX_QUEUED
  await until(() => settled.length === refusedCount)
  for (let i = 0; i < 20; i++) await tick()
  t.equal(settled.length, refusedCount, 'nothing else answered while the verify in the slot ran')
  t.equal(held.started.length, 1, 'one argon2 verify started; the refused logins made none')
  t.equal(hasher.queued, MAX_QUEUED)
  for (const response of settled) {
    t.equal(response.statusCode, 503)
    t.same(response.json(), BUSY)
    t.equal(response.headers['set-cookie'], undefined, 'a refused login gets no session cookie')
  }

  held.release()
  const responses = await Promise.all(pending)
  t.equal(responses.filter(r => r.statusCode === 503).length, refusedCount, 'exactly the excess was refused')
  responses.forEach((response, i) => {
    const [username, , expected] = burst[i] as [string, string, number]
    if (response.statusCode === 503) return
    t.equal(response.statusCode, expected, `a queued login for ${username} got its own answer`)
    t.equal(cookieFrom(response) !== undefined, expected === 200, 'a session cookie only with a login')
  })
  t.equal(hasher.queued, 0, 'the queue drained')
  t.equal(hasher.full, false)

  // Later logins are checked as usual.
  const after = await login('alice', 'alice-pw')
  t.equal(after.statusCode, 200)
  const me = await app.inject({ url: '/me', headers: { cookie: cookieFrom(after) as string } })
  t.equal(me.json().user.username, 'alice')
  t.equal((await login('nobody', 'alice-pw')).statusCode, 401)
  t.equal((await login('alice', 'wrong')).statusCode, 401)
})

t.test('under load every username is refused alike, before the user store is asked or argon2 runs', async t => {
  const { hasher, users, failures, login } = await setup(t)
  const held = holdVerifies(t)
  // Fill the one slot and the queue with alice's logins.
  const filling = Array.from({ length: 1 + MAX_QUEUED }, () => login('alice', 'alice-pw'))
  await until(() => held.started.length === 1 && hasher.queued === MAX_QUEUED)
  const lookups = users.calls.findByUsername
  const failed = failures.length

  const refused = await Promise.all([
    login('alice', 'alice-pw'), // a known user with the right password
    login('alice', 'wrong'), // a known user with a wrong one
    login('nobody', 'alice-pw'), // no such user
    login('inactive', 'alice-pw'), // an inactive user
    login('nohash', 'alice-pw') // a user without a password
  ])
  const [first, ...rest] = refused.map(observable)
  t.same(first, { status: 503, body: JSON.stringify(BUSY), headers: first?.headers })
  for (const other of rest) t.same(other, first, 'the same status, body and headers whoever the username names')
  t.equal(users.calls.findByUsername, lookups, 'refused before the user store was asked')
  t.equal(held.started.length, 1, 'and before argon2')
  t.equal(failures.length, failed, 'not a failed login: nobody\'s password was checked, so onLoginFailed stays quiet')

  held.release()
  t.same((await Promise.all(filling)).map(r => r.statusCode), [200, 200, 200], 'the queued logins went through')
})

t.test('a login whose lookup ran while the queue filled is refused at its verify, known user or not', async t => {
  const users = new HeldUsers()
  const { hasher, login } = await setup(t, users)
  const held = holdVerifies(t)
  // Two logins get past the queue check and into a held lookup while the queue still has room.
  let endLookups!: () => void
  users.hold = new Promise(resolve => { endLookups = resolve })
  const lookups = users.calls.findByUsername
  const known = login('alice', 'alice-pw')
  const unknown = login('nobody', 'alice-pw')
  await until(() => users.calls.findByUsername === lookups + 2)
  users.hold = undefined
  // Meanwhile the slot and the queue fill.
  const filling = Array.from({ length: 1 + MAX_QUEUED }, () => login('bob', 'bob-pw'))
  await until(() => held.started.length === 1 && hasher.queued === MAX_QUEUED)

  endLookups()
  const [knownResponse, unknownResponse] = await Promise.all([known, unknown])
  t.same(observable(knownResponse), observable(unknownResponse), 'the same answer for both')
  t.equal(knownResponse.statusCode, 503)
  t.same(knownResponse.json(), BUSY)
  t.equal(knownResponse.headers['set-cookie'], undefined)
  t.equal(held.started.length, 1, 'neither reached argon2')

  held.release()
  t.same((await Promise.all(filling)).map(r => r.statusCode), [200, 200, 200])
  t.equal((await login('alice', 'alice-pw')).statusCode, 200, 'and alice logs in once the queue has room')
})

t.test('app.hashPassword is refused the same way past the bound, and works again once the queue drains', async t => {
  const { app, hasher, login } = await setup(t)
  const held = holdVerifies(t)
  const filling = Array.from({ length: 1 + MAX_QUEUED }, () => login('alice', 'alice-pw'))
  await until(() => held.started.length === 1 && hasher.queued === MAX_QUEUED)
  await t.rejects(app.hashPassword('new-password'), { code: 'FST_AUTH_BUSY', statusCode: 503 })
  held.release()
  await Promise.all(filling)
  const hash = await app.hashPassword('new-password')
  t.ok(await argon2.verify(hash, 'new-password'))
})

t.test('maxQueuedHashes defaults to 100', async t => {
  const { app } = await build(t)
  const { hasher } = passwordsOf({ server: app } as unknown as FastifyRequest)
  // A hash enters the queue as it is called, and none can finish before this loop yields: it counts the room.
  const hashes: Array<Promise<string>> = []
  while (!hasher.full && hashes.length < 1000) hashes.push(hasher.hash('pw'))
  await t.rejects(hasher.hash('pw'), { code: 'FST_AUTH_BUSY' })
  t.equal(hasher.queued, 100)
  t.equal(hashes.length, hasher.concurrency + 100)
  await Promise.all(hashes)
  t.equal(hasher.queued, 0)
})
