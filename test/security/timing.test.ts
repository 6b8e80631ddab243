// Row 5, timing: every way a login with well-formed credentials can fail costs one user lookup and the work of one
// argon2 verify with the plugin's current parameters (exactly that, when the stored hash was made with them; its own
// verify on top, when it was made with others), so response time does not tell an unknown user from a wrong password. A spy on argon2.verify counts the verifies and reads their parameters. (The measured timing ratio
// belongs to the benchmark, not to a timed test.)
import t from 'tap'
import * as argon2 from 'argon2'
import { TEST_HASH_OPTIONS, hashOf } from '../helper'
import { CURRENT_PARAMETERS, argon2Parameters, buildApp, spyOnVerify } from './kit'

const GOOD_HASH_OF_X = '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$'

/** Stored "hashes" that argon2 cannot use: each must cost a verify against the dummy hash, as an unknown user does. */
const MALFORMED: Record<string, unknown> = {
  'no hash (undefined)': undefined,
  'no hash (null)': null,
  'empty string': '',
  'a plaintext password': 'alice-pw',
  'a number': 42,
  'an object': { hash: 'x' },
  'a bcrypt hash': '$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy',
  'a PBKDF2 hash': 'pbkdf2_sha256$600000$salt$hash=',
  'argon2 with a 4-byte salt': `$argon2id$v=19$m=1024,t=1,p=1$c2FsdA$${'A'.repeat(43)}`,
  'argon2 with a 1-byte output': '$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$aA',
  'argon2 with m repeated for t and p': `$argon2id$v=19$m=1024,m=1024,m=1024$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`,
  'argon2 with memory below argon2\'s minimum': `$argon2id$v=19$m=1,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`,
  'argon2 with parallelism 0': `$argon2id$v=19$m=1024,t=1,p=0$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`,
  'argon2 with less than 8 KiB of memory per lane': `$argon2id$v=19$m=8,t=1,p=2$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`,
  'argon2 with base64 padding': `$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHQ=$${'A'.repeat(43)}`,
  'argon2 with time cost 0': `$argon2id$v=19$m=1024,t=0,p=1$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`,
  'argon2 with an unknown version': `$argon2id$v=99$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`,
  'argon2 with no output': GOOD_HASH_OF_X,
  'argon2 with a newline after it': `$argon2id$v=19$m=1024,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}\n`
}

async function setup (t: tap.Test) {
  const { app, users } = await buildApp(t)
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'inactive', password: await hashOf('inactive-pw'), isActive: false })
  let id = 10
  for (const [name, password] of Object.entries(MALFORMED)) users.add({ id: id++, username: name, password })
  return { app, users }
}

t.test('each failure path makes exactly one verify, with the current parameters', async t => {
  const { app, users } = await setup(t)
  const verifies = spyOnVerify(t)

  const attempt = async (username: string, password: string) => {
    verifies.length = 0
    const lookups = users.calls.findByUsername
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
    return { response, lookups: users.calls.findByUsername - lookups }
  }

  const dummyDigests = new Set<string>()
  const paths: Array<[string, string, string, 'dummy' | 'own']> = [
    ['an unknown user', 'nobody', 'whatever', 'dummy'],
    ['a wrong password', 'alice', 'not-alice-pw', 'own'],
    ['an inactive user with the right password', 'inactive', 'inactive-pw', 'own'],
    ['an inactive user with a wrong password', 'inactive', 'wrong', 'own'],
    ...Object.keys(MALFORMED).map(name => [`a stored hash that is ${name}`, name, 'alice-pw', 'dummy'] as [string, string, string, 'dummy'])
  ]
  for (const [name, username, password, against] of paths) {
    const { response, lookups } = await attempt(username, password)
    t.equal(response.statusCode, 401, `${name}: 401`)
    t.equal(lookups, 1, `${name}: one user lookup`)
    t.equal(verifies.length, 1, `${name}: exactly one argon2 verify`)
    const digest = verifies[0]?.digest ?? ''
    t.same(argon2Parameters(digest), CURRENT_PARAMETERS, `${name}: verified with the current parameters`)
    if (against === 'dummy') dummyDigests.add(digest)
    else t.equal(digest, users.byId.get(username === 'alice' ? 1 : 2)?.password, `${name}: against the user's own hash`)
  }
  t.equal(dummyDigests.size, 1, 'every path without a usable hash verifies against the one dummy hash')

  const { response } = await attempt('alice', 'alice-pw')
  t.equal(response.statusCode, 200, 'and the right password still logs in, with one verify')
  t.equal(verifies.length, 1)
})

// Issue 11, item 1: a stored hash made before `hashOptions` changed was verified with its own parameters only, so a
// wrong password for that account cost 4 ms where an unknown user cost 35. Each failure path must include the work of
// one verify with the current parameters; the costs of each path's verifies are read off the spy, never a clock.
t.test('a hash made with other parameters also costs a verify with the current ones, on every path', async t => {
  const { app, users } = await buildApp(t)
  const other = {
    weaker: { memoryCost: 4096, timeCost: 1, parallelism: 1 },
    stronger: { memoryCost: 19456, timeCost: 2, parallelism: 1 },
    'more lanes': { ...TEST_HASH_OPTIONS, parallelism: 2 },
    'fewer passes': { ...TEST_HASH_OPTIONS, timeCost: 5, memoryCost: 7168 }
  }
  let id = 1
  for (const [name, options] of Object.entries(other)) {
    users.add({ id: id++, username: name, password: await argon2.hash('pw', { ...options, type: argon2.argon2id }) })
    users.add({ id: id++, username: `${name} inactive`, password: await argon2.hash('pw', { ...options, type: argon2.argon2id }), isActive: false })
  }
  const verifies = spyOnVerify(t)
  const costs = async (username: string, password: string, status = 401) => {
    verifies.length = 0
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
    t.equal(response.statusCode, status, `${username}: ${status}`)
    return verifies.map(call => argon2Parameters(call.digest))
  }

  t.same(await costs('nobody', 'pw'), [CURRENT_PARAMETERS], 'an unknown user: the dummy verify, with the current parameters')
  for (const [name, options] of Object.entries(other)) {
    t.same(await costs(name, 'wrong'), [options, CURRENT_PARAMETERS], `${name}: a wrong password costs its own verify and one with the current parameters`)
    t.same(await costs(`${name} inactive`, 'pw'), [options, CURRENT_PARAMETERS], `${name}: an inactive user's right password too`)
    t.same(await costs(`${name} inactive`, 'wrong'), [options, CURRENT_PARAMETERS], `${name}: an inactive user's wrong password too`)
    // The right password pays the same (the caller only learns later whether it is a failure), and is upgraded.
    t.same(await costs(name, 'pw', 200), [options, CURRENT_PARAMETERS], `${name}: the right password too`)
    t.same(await costs(name, 'pw', 200), [CURRENT_PARAMETERS], `${name}: once rehashed, one verify with the current parameters`)
  }
})

t.test('the dummy hash follows the configured parameters', async t => {
  const hashOptions = { memoryCost: 19456, timeCost: 2, parallelism: 1 }
  const { app } = await buildApp(t, { plugin: { hashOptions } })
  const verifies = spyOnVerify(t)
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'nobody', password: 'x' } })
  t.equal(response.statusCode, 401)
  t.equal(verifies.length, 1)
  t.same(argon2Parameters(verifies[0]?.digest ?? ''), hashOptions)
  t.not(hashOptions.memoryCost, TEST_HASH_OPTIONS.memoryCost, 'parameters that differ from the other tests\'')
})

t.test('a hash argon2 refuses after all (memory it cannot allocate) also costs the dummy verify', async t => {
  const { app, users } = await setup(t)
  users.add({ id: 99, username: 'huge', password: `$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}` })
  const verifies = spyOnVerify(t)
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'huge', password: 'x' } })
  t.equal(response.statusCode, 401, 'a 401, not a 500')
  t.equal(verifies.length, 2, 'the refused verify, then one that does the work')
  t.same(argon2Parameters(verifies[1]?.digest ?? ''), CURRENT_PARAMETERS, 'with the current parameters')
})
