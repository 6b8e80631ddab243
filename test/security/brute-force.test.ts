import t from 'tap'
import { Writable } from 'node:stream'
import type { FastifyInstance, FastifyRequest, LightMyRequestResponse } from 'fastify'
import rateLimit, { type RateLimitOptions } from '@fastify/rate-limit'
import { TestUsers, build, hashOf, type TestUser } from '../helper'
import { assertReadmeShowsRecipe } from './kit'

// Row 16 of the security suite: the plugin answers every failed login alike and tells the app why through
// onLoginFailed; limiting guesses is the app's job, and the README's recipe for it is attacked here.

const PASSWORD = 'correct horse battery staple'
const GUESS = 'Tr0ub4dor&3-guess'

/** A logger that keeps every line it writes, so a test can read what an app's logs would hold. */
function capturedLogger (): { lines: string[], logger: { level: string, stream: Writable } } {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      lines.push(String(chunk))
      callback()
    }
  })
  return { lines, logger: { level: 'info', stream } }
}

t.test('onLoginFailed and the other events can be logged whole without writing the password to the logs', async t => {
  const { lines, logger } = capturedLogger()
  const events: Array<Record<string, unknown>> = []
  const logWhole = (event: Record<string, unknown> & { request: { log: { info: (o: object, m: string) => void } } }) => {
    events.push(event)
    // What an app naturally writes: the whole event, as the docs describe its fields.
    event.request.log.info(event, 'auth event')
  }
  const { app, users } = await build(t, {
    fastify: { logger },
    plugin: { onLoginFailed: logWhole, onLogin: logWhole, onLogout: logWhole }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf(PASSWORD) })

  const failed = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: GUESS } })
  t.equal(failed.statusCode, 401)
  const ok = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD } })
  t.equal(ok.statusCode, 200)
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: `sessionId=${ok.cookies[0]?.value}` } })
  t.equal(out.statusCode, 200)

  t.equal(events.length, 3, 'onLoginFailed, onLogin and onLogout each ran once')
  const logged = lines.filter(line => line.includes('"msg":"auth event"'))
  t.equal(logged.length, 3)
  for (const line of logged) {
    t.notOk(line.includes(PASSWORD), 'the real password is not in the log line')
    t.notOk(line.includes(GUESS), 'the guessed password is not in the log line')
  }
  t.match(JSON.parse(logged[0] as string), { username: 'alice', reason: 'wrong-password' }, 'the failure line says who and why')
  for (const event of events) {
    t.notOk(JSON.stringify(event).includes(PASSWORD), 'the event serializes without the password')
    t.notOk(JSON.stringify(event).includes(GUESS))
    t.equal((event.request as { url: string }).url.startsWith('/log'), true, 'the request is still on the event for the listener to use')
  }
  t.same(Object.keys(events[0] as object).sort(), ['reason', 'userId', 'username'], 'onLoginFailed shows only the account and the reason')
})

t.test('onLoginFailed names the username and the reason on every failure path, and never carries the password', async t => {
  const events: Array<{ username: string | null, reason: string }> = []
  const { app, users } = await build(t, {
    plugin: { onLoginFailed: (event: { username: string | null, reason: string }) => { events.push(event) } }
  })
  const hash = await hashOf(PASSWORD)
  users.add({ id: 1, username: 'alice', password: hash })
  users.add({ id: 2, username: 'inactive', password: hash, isActive: false })
  users.add({ id: 3, username: 'nohash' })

  const attempts: Array<[unknown, unknown, string | null, string]> = [
    ['alice', GUESS, 'alice', 'wrong-password'],
    ['nobody', GUESS, 'nobody', 'unknown-user'],
    ['inactive', PASSWORD, 'inactive', 'inactive'],
    ['nohash', PASSWORD, 'nohash', 'no-password'],
    [['alice'], PASSWORD, null, 'invalid-input'],
    ['alice', [PASSWORD], 'alice', 'invalid-input'],
    ['alice', '', 'alice', 'invalid-input']
  ]
  for (const [username, password, expectedName, reason] of attempts) {
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
    t.equal(response.statusCode, 401, `${reason}: 401`)
    const event = events.shift()
    t.same(event && { username: event.username, reason: event.reason }, { username: expectedName, reason }, `${reason}: named`)
    t.notOk(JSON.stringify(event).includes(PASSWORD) || JSON.stringify(event).includes(GUESS), `${reason}: no password`)
  }
  t.equal(events.length, 0, 'one event per failure')
})

/** A user store that matches usernames the way many apps do: NFKC, trimmed, case-insensitive, no invisible characters. */
class FoldingUsers extends TestUsers {
  static fold (username: string): string {
    return username.normalize('NFKC').replace(/\p{Cf}/gu, '').trim().toLowerCase()
  }

  override findByUsername = async (username: string): Promise<TestUser | undefined> => {
    this.calls.findByUsername++
    for (const user of this.byId.values()) if (FoldingUsers.fold(user.username) === FoldingUsers.fold(username)) return user
    return undefined
  }
}

/** A user store that answers after 30 ms, as a loaded database does: requests in flight pile up behind it. */
class SlowUsers extends TestUsers {
  override findByUsername = async (username: string): Promise<TestUser | undefined> => {
    this.calls.findByUsername++
    await new Promise(resolve => setTimeout(resolve, 30))
    for (const user of this.byId.values()) if (user.username === username) return user
    return undefined
  }
}

interface LimitedApp {
  app: FastifyInstance
  users: TestUsers
  failures: Array<{ username: string | null, reason: string }>
  loginAttemptKey: (request: FastifyRequest) => string
}

async function buildLimitedApp (t: { teardown: (fn: () => unknown) => void }, users: TestUsers = new TestUsers()): Promise<LimitedApp> {
  const failures: LimitedApp['failures'] = []
  let loginAttemptKey!: LimitedApp['loginAttemptKey']
  const { app } = await build(t, {
    users,
    plugin: { onLoginFailed: ({ username, reason }: { username: string | null, reason: string }) => { failures.push({ username, reason }) } },
    routes: false,
    extend: async app => { loginAttemptKey = await limitedLoginRoutes(app) }
  })

  const hash = await hashOf(PASSWORD)
  users.add({ id: 1, username: 'alice', password: hash })
  users.add({ id: 2, username: 'bob', password: hash })
  return { app, users, failures, loginAttemptKey }
}

/**
 * The README's rate-limit recipe on POST /login, plus variants on other paths that each change one line of it:
 * /login-raw-key keys on the username as typed, /login-on-request runs the limiter before the body is parsed,
 * /login-short has a 2 s window so a test can wait it out, and /login-failures-only counts failed attempts only
 * (peek first, count on failure), the variant the README warns against. Returns the recipe's key function.
 */
async function limitedLoginRoutes (app: FastifyInstance): Promise<LimitedApp['loginAttemptKey']> {
  // recipe:rate-limit:start
  await app.register(rateLimit, { global: false })

  // One counter per account however its username is typed: case, width, accents, spaces and invisible characters
  // are folded away, so "Alice", " alice" and "ａｌｉｃｅ" count against alice even where the user store tells them
  // apart. Folding too much only makes accounts share a counter; folding too little multiplies the limit.
  function loginAttemptKey (request: FastifyRequest): string {
    const { username } = (request.body ?? {}) as { username?: unknown }
    // Not a username the plugin would look up: one shared counter, and no unbounded key kept in memory.
    if (typeof username !== 'string' || username.length > 512) return 'login:invalid'
    return `login:${username.normalize('NFKD').replace(/[\p{M}\p{Cf}\p{Z}\s]/gu, '').toUpperCase().toLowerCase()}`
  }

  const loginRateLimit: RateLimitOptions = {
    max: 5, // attempts per account and window: attempt 6 gets 429 with Retry-After, before any password check
    timeWindow: '15 minutes',
    hook: 'preHandler', // the key needs the parsed body: at onRequest every account would share one counter
    keyGenerator: loginAttemptKey
  }

  app.post('/login', { config: { rateLimit: loginRateLimit } }, async (request) => {
    const { username, password } = (request.body ?? {}) as { username?: unknown, password?: unknown }
    const user = await request.authenticate(username as string, password as string)
    await request.login({ user })
    return { id: request.getUserId() }
  })
  // recipe:rate-limit:end

  const variant = async (request: FastifyRequest) => {
    const { username, password } = request.body as { username: string, password: string }
    await request.login({ user: await request.authenticate(username, password) })
    return { id: request.getUserId() }
  }
  const rawKey = (request: FastifyRequest): string => `login:${(request.body as { username: string }).username}`
  app.post('/login-raw-key', { config: { rateLimit: { ...loginRateLimit, keyGenerator: rawKey } } }, variant)
  app.post('/login-on-request', { config: { rateLimit: { ...loginRateLimit, hook: 'onRequest' } } }, variant)
  app.post('/login-short', { config: { rateLimit: { ...loginRateLimit, timeWindow: 2000 } } }, variant)
  const failuresOnly = app.createRateLimit({ max: 5, timeWindow: '15 minutes', keyGenerator: loginAttemptKey })
  app.post('/login-failures-only', async (request, reply) => {
    const status = await failuresOnly(request, { increment: false })
    if (!status.isAllowed && status.remaining === 0) return reply.code(429).send()
    try {
      return await variant(request)
    } catch (err) {
      await failuresOnly(request)
      throw err
    }
  })
  return loginAttemptKey
}

function attempt (
  app: FastifyInstance, username: unknown, password: unknown, url = '/login', remoteAddress = '127.0.0.1'
): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url, remoteAddress, payload: { username, password } })
}

t.test('rate-limit recipe: attempt N+1 on an account gets 429 with Retry-After, before any password check', async t => {
  const { app, users, failures } = await buildLimitedApp(t)
  for (let i = 1; i <= 5; i++) {
    const response = await attempt(app, 'alice', `${GUESS}-${i}`)
    t.equal(response.statusCode, 401, `attempt ${i}: 401`)
    t.equal(response.headers['x-ratelimit-remaining'], String(5 - i), `attempt ${i}: ${5 - i} left`)
  }
  const lookups = users.calls.findByUsername

  const sixth = await attempt(app, 'alice', `${GUESS}-6`)
  t.equal(sixth.statusCode, 429, 'attempt 6: 429')
  const retryAfter = Number(sixth.headers['retry-after'])
  t.ok(Number.isInteger(retryAfter) && retryAfter > 0 && retryAfter <= 15 * 60, `Retry-After is the rest of the window (${retryAfter}s)`)
  t.equal(sixth.headers['x-ratelimit-remaining'], '0')
  t.notOk(sixth.cookies.some(cookie => cookie.name === 'sessionId' && cookie.value !== ''), 'no session cookie')

  // The limit is on the account, whoever asks and whatever they send: from another address, with the right password.
  t.equal((await attempt(app, 'alice', GUESS, '/login', '203.0.113.9')).statusCode, 429, 'another address: 429')
  t.equal((await attempt(app, 'alice', PASSWORD)).statusCode, 429, 'the right password is refused during the lockout too')
  t.equal(users.calls.findByUsername, lookups, 'no refused attempt reached the user store or argon2')
  t.equal(failures.filter(failure => failure.username === 'alice').length, 5, 'onLoginFailed saw only the 5 checked attempts')

  for (let i = 1; i <= 4; i++) t.equal((await attempt(app, 'bob', `${GUESS}-${i}`)).statusCode, 401, `bob attempt ${i}: 401`)
  const bob = await attempt(app, 'bob', PASSWORD)
  t.equal(bob.statusCode, 200, 'bob, another account, is unaffected by alice\'s lockout')
  t.equal(bob.json().id, 2)
})

t.test('rate-limit recipe: the window passes and the account logs in again', async t => {
  const { app } = await buildLimitedApp(t)
  for (let i = 1; i <= 5; i++) t.equal((await attempt(app, 'alice', GUESS, '/login-short')).statusCode, 401)
  t.equal((await attempt(app, 'alice', PASSWORD, '/login-short')).statusCode, 429)
  await new Promise(resolve => setTimeout(resolve, 2100))
  const after = await attempt(app, 'alice', PASSWORD, '/login-short')
  t.equal(after.statusCode, 200, 'after the window the right password works')
})

t.test('rate-limit recipe: concurrent guesses cannot outrun the counter', async t => {
  const { app, users } = await buildLimitedApp(t, new SlowUsers())
  const before = users.calls.findByUsername
  const responses = await Promise.all(Array.from({ length: 12 }, (_, i) => attempt(app, 'alice', `${GUESS}-${i}`)))
  const codes = responses.map(response => response.statusCode).sort()
  t.same(codes, [...Array(5).fill(401), ...Array(7).fill(429)], '12 guesses at once: 5 checked, 7 refused')
  t.equal(users.calls.findByUsername - before, 5, 'exactly 5 reached the password check')
})

t.test('counting only failed attempts lets parallel guesses through: why the recipe counts every attempt', async t => {
  const { app, users } = await buildLimitedApp(t, new SlowUsers())
  for (let i = 0; i < 5; i++) t.equal((await attempt(app, 'bob', GUESS, '/login-failures-only')).statusCode, 401)
  t.equal((await attempt(app, 'bob', GUESS, '/login-failures-only')).statusCode, 429, 'one at a time, the variant does limit')

  const before = users.calls.findByUsername
  const guesses = Array.from({ length: 12 }, (_, i) => attempt(app, 'alice', `${GUESS}-${i}`, '/login-failures-only'))
  const responses = await Promise.all(guesses)
  const checked = users.calls.findByUsername - before
  t.ok(checked > 5, `12 guesses at once: ${checked} reached the password check, not 5`)
  t.equal(responses.filter(response => response.statusCode === 401).length, checked)
})

t.test('rate-limit recipe: username variants that reach the same account share its counter', async t => {
  const users = new FoldingUsers()
  const { app, failures } = await buildLimitedApp(t, users)
  const variants = ['alice', 'Alice', ' alice ', 'ALICE', 'ａｌｉｃｅ', 'alice\u200b']
  for (const username of variants) {
    t.equal((await users.findByUsername(username))?.id, 1, `${JSON.stringify(username)} is alice in this app's store`)
  }

  // Keyed on the username as typed, each variant gets its own 5 guesses at alice's password.
  for (const username of variants) {
    for (let i = 0; i < 6; i++) await attempt(app, username, `${GUESS}-${i}`, '/login-raw-key')
  }
  const rawGuesses = failures.filter(failure => failure.reason === 'wrong-password').length
  t.equal(rawGuesses, 5 * variants.length, `keyed as typed: ${rawGuesses} guesses reached alice's password`)

  // The recipe's key folds them into one counter: 5 guesses in all.
  failures.length = 0
  const codes: number[] = []
  for (const username of variants) {
    for (let i = 0; i < 6; i++) codes.push((await attempt(app, username, `${GUESS}-${i}`)).statusCode)
  }
  t.equal(failures.filter(failure => failure.reason === 'wrong-password').length, 5, 'the recipe: 5 guesses in all')
  t.equal(codes.filter(code => code === 429).length, 6 * variants.length - 5)
  t.equal((await attempt(app, 'bob', PASSWORD)).statusCode, 200, 'bob is still unaffected')
})

t.test('rate-limit recipe: the key folds variants, keeps accounts apart and stays bounded', async t => {
  const { loginAttemptKey } = await buildLimitedApp(t)
  const key = (body: unknown): string => loginAttemptKey({ body } as FastifyRequest)
  const alice = key({ username: 'alice' })
  t.equal(alice, 'login:alice')
  const spellings = [
    'ALICE', ' Alice\t', 'a l i c e', 'ａｌｉｃｅ', 'álice', 'ali\u0301ce', 'alice\u200b', '\u202ealice', 'ALİCE', 'alıce'
  ]
  for (const username of spellings) {
    t.equal(key({ username }), alice, `${JSON.stringify(username)} counts against alice`)
  }
  t.equal(key({ username: 'straße' }), key({ username: 'STRASSE' }), 'ß and SS fold together')
  t.equal(key({ username: 'ſtraſſe' }), key({ username: 'strasse' }), 'the long s folds to s')
  for (const other of ['bob', 'alicia', 'alice2', 'alic', 'login:alice']) {
    t.not(key({ username: other }), alice, `${other} is another account`)
  }
  const notUsernames = [
    undefined, null, 'alice', 42, [], {}, { username: ['alice'] }, { username: 7 }, { username: null }, { username: { toString: 'alice' } }
  ]
  for (const body of notUsernames) {
    t.equal(key(body), 'login:invalid', `${JSON.stringify(body)}: the shared counter for non-usernames`)
  }
  t.equal(key({ username: 'a'.repeat(100_000) }), 'login:invalid', 'an over-long username keeps no 100 KB key in memory')
  t.ok(key({ username: 'a'.repeat(512) }).length <= 520)
})

t.test('rate-limit recipe: non-usernames fill one counter of their own, not an account\'s', async t => {
  const { app } = await buildLimitedApp(t)
  for (let i = 0; i < 5; i++) t.equal((await attempt(app, [`alice${i}`], PASSWORD)).statusCode, 401)
  t.equal((await attempt(app, { $ne: null }, PASSWORD)).statusCode, 429, 'the sixth non-username is limited')
  t.equal((await attempt(app, 'alice', PASSWORD)).statusCode, 200, 'alice is unaffected')
})

t.test('rate-limit recipe: the preHandler hook line is needed, at onRequest every account shares one counter', async t => {
  const { app } = await buildLimitedApp(t)
  for (let i = 0; i < 5; i++) t.equal((await attempt(app, 'alice', GUESS, '/login-on-request')).statusCode, 401)
  const bob = await attempt(app, 'bob', PASSWORD, '/login-on-request')
  t.equal(bob.statusCode, 429, 'at onRequest the body is not parsed yet: alice\'s guesses lock bob out')
})

t.test('the README shows the rate-limit recipe as tested', async t => {
  assertReadmeShowsRecipe(t, __filename, 'rate-limit')
})
