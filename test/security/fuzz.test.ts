import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { TestUsers, build, cookieFrom, hashOf, type TestUser } from '../helper'

// Row 18 of the security suite: property tests. Whatever a client sends as credentials, as a cookie header or as a
// mutated session cookie, the plugin never answers 5xx and never authenticates anyone but the one user the input
// names exactly. Each property states its oracle: the answer the input must get, computed without the plugin.
// numRuns keep the file under a minute with the test hash (OWASP's cheapest argon2id row, about 20 ms a verify: the
// plugin refuses cheaper ones); a failure prints its seed and shrunk input.

const SEED = Number(process.env.FUZZ_SEED ?? Date.now())
/** FUZZ_RUNS=10 runs every property ten times as long, for a deeper search than CI's. */
const FACTOR = Math.max(1, Number(process.env.FUZZ_RUNS ?? 1))
const runs = (n: number): { numRuns: number, seed: number } => ({ numRuns: n * FACTOR, seed: SEED })
t.comment(`fast-check seed ${SEED} (rerun with FUZZ_SEED=${SEED})`)

interface Account {
  id: number
  username: string
  /** The plain password, or undefined when the account has no usable hash. */
  plain?: string
  hash?: unknown
  isActive?: boolean
}

// 'pässword' is stored NFC; its NFD spelling must match too (the plugin compares passwords as NFC).
const ACCOUNTS: Account[] = [
  { id: 1, username: 'alice', plain: 'p\u00e4ssword' },
  { id: 2, username: 'bob', plain: 'hunter2' },
  { id: 3, username: 'carol', plain: 'carol-pw', isActive: false },
  { id: 4, username: 'dave' },
  { id: 5, username: 'eve', hash: '$argon2id$v=19$m=1024,t=1,p=1$c29tZXNhbHQ$bm90LWEtcmVhbC1oYXNo' },
  { id: 6, username: 'Alice', plain: 'other' }
]

/** The only answer an input may get: the id of the active account it names exactly, with its password, or null. */
function expectedLogin (username: unknown, password: unknown): number | null {
  if (typeof username !== 'string' || typeof password !== 'string' || password.length === 0) return null
  const account = ACCOUNTS.find(candidate => candidate.username === username)
  if (account?.plain === undefined || account.isActive === false) return null
  return password.normalize('NFC') === account.plain.normalize('NFC') ? account.id : null
}

const hashes = new Map<string, Promise<string>>()
/** argon2 hashes are made once per password for the whole file: the stateful property builds an app per run. */
function cachedHash (plain: string): Promise<string> {
  let hash = hashes.get(plain)
  if (hash === undefined) hashes.set(plain, hash = hashOf(plain))
  return hash
}

async function buildApp (t: { teardown: (fn: () => unknown) => void }, users = new TestUsers()): Promise<FastifyInstance> {
  const { app } = await build(t, {
    users,
    routes: false,
    extend: app => {
      // The route reads the body defensively: a body of `null` or `"x"` must reach the plugin, not crash the route.
      app.post('/login', async (request) => {
        const { username, password } = (request.body ?? {}) as { username?: unknown, password?: unknown }
        const user = await request.authenticate(username as string, password as string)
        await request.login({ user })
        return { id: request.getUserId() }
      })
      app.post('/logout', async (request) => {
        await request.logout()
        return { ok: true }
      })
      app.get('/whoami', async (request) => ({ id: (request.user as { id?: number } | null)?.id ?? null }))
    }
  })
  for (const account of ACCOUNTS) {
    const password = account.hash ?? (account.plain === undefined ? undefined : await cachedHash(account.plain))
    users.add({ id: account.id, username: account.username, password, isActive: account.isActive })
  }
  return app
}

function login (app: FastifyInstance, payload: string): Promise<LightMyRequestResponse> {
  return app.inject({ method: 'POST', url: '/login', headers: { 'content-type': 'application/json' }, payload })
}

async function whoami (app: FastifyInstance, cookie: string): Promise<{ statusCode: number, id: unknown }> {
  const response = await app.inject({ url: '/whoami', headers: { cookie } })
  return { statusCode: response.statusCode, id: response.statusCode === 200 ? response.json().id : undefined }
}

/**
 * Checks a login answer against the oracle: 200 with the right id and a cookie that carries that user, or the one
 * 401 with no session cookie; 400 only for a body Fastify's JSON parser refuses (prototype poisoning, bad JSON).
 */
async function checkLogin (app: FastifyInstance, payload: string, expected: number | null | 'unparsable'): Promise<void> {
  const response = await login(app, payload)
  const cookie = cookieFrom(response)
  if (expected === 'unparsable') {
    if (response.statusCode !== 400 || cookie !== undefined) throw new Error(`unparsable body: ${response.statusCode}`)
    return
  }
  if (expected === null) {
    if (response.statusCode !== 401) throw new Error(`expected 401, got ${response.statusCode} ${response.body}`)
    if (response.json().code !== 'FST_AUTH_AUTHENTICATION_FAILED') throw new Error(`wrong error ${response.body}`)
    if (cookie !== undefined) throw new Error('a failed login set a session cookie')
    return
  }
  if (response.statusCode !== 200 || response.json().id !== expected || cookie === undefined) {
    throw new Error(`expected login as ${expected}, got ${response.statusCode} ${response.body}`)
  }
  const seen = await whoami(app, cookie)
  if (seen.id !== expected) throw new Error(`logged in as ${expected} but the cookie carries ${String(seen.id)}`)
}

/** What Fastify's parser makes of a body: the parsed value, or 'unparsable' for a body it answers 400 to. */
function parsedBody (payload: string): { value: unknown } | 'unparsable' {
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return 'unparsable'
  }
  return poisons(value) ? 'unparsable' : { value }
}

/** What Fastify's default parser (secure-json-parse) refuses: a `__proto__` key, or `constructor.prototype`, anywhere. */
function poisons (value: unknown): boolean {
  if (value === null || typeof value !== 'object') return false
  for (const key of Object.keys(value)) {
    const child = (value as Record<string, unknown>)[key]
    if (key === '__proto__') return true
    if (key === 'constructor' && child !== null && typeof child === 'object' && Object.hasOwn(child, 'prototype')) return true
    if (poisons(child)) return true
  }
  return false
}

function expectedFor (payload: string): number | null | 'unparsable' {
  const parsed = parsedBody(payload)
  if (parsed === 'unparsable') return parsed
  const body = parsed.value as { username?: unknown, password?: unknown } | null
  return body !== null && typeof body === 'object' && !Array.isArray(body)
    ? expectedLogin(body.username, body.password)
    : null
}

const usernames = ACCOUNTS.map(account => account.username)
const passwords = ACCOUNTS.flatMap(account => account.plain === undefined ? [] : [account.plain, account.plain.normalize('NFD')])
const anyJson = fc.jsonValue({ stringUnit: 'binary', maxDepth: 2 })
/** Near misses: real names and passwords, recased, padded, cut, with invisible or look-alike characters. */
function nearMisses (values: string[]): fc.Arbitrary<string> {
  const real = fc.constantFrom(...values)
  return fc.oneof(
    real,
    fc.mixedCase(real),
    fc.tuple(real, fc.constantFrom(' ', '\u0000', '\u200b', '\u202e', '\u0301', '\ufeff', 'x')).map(([v, c]) => v + c),
    fc.tuple(fc.constantFrom(' ', '\u200b', '\ufeff'), real).map(([c, v]) => c + v),
    real.map(v => v.slice(0, -1)),
    real.map(v => v.normalize('NFKD')),
    real.map(v => v.replace(/a/g, '\u0430')) // Cyrillic a
  )
}
const usernameArb = fc.oneof(nearMisses(usernames), anyJson, fc.string({ unit: 'binary' }))
const passwordArb = fc.oneof(nearMisses(passwords), anyJson, fc.string({ unit: 'binary' }))
/** One account's own username and password, each either exact or a near miss: real logins and their neighbours. */
const accountPair = fc.constantFrom(...ACCOUNTS).chain(account => {
  const name = fc.oneof(fc.constant(account.username), nearMisses([account.username]))
  const plain = account.plain ?? 'no-such-password'
  return fc.tuple(name, fc.oneof(fc.constant(plain), fc.constant(plain.normalize('NFD')), nearMisses([plain])))
})

t.test('credentials: any JSON value as username and password gets exactly the oracle\'s answer', async t => {
  const app = await buildApp(t)
  let logins = 0
  const pair = fc.oneof(fc.tuple(usernameArb, passwordArb), accountPair)
  await fc.assert(fc.asyncProperty(pair, async ([username, password]) => {
    // Through the parser's eyes: fc.jsonValue() can make an object with an own "__proto__" key, which Fastify's
    // parser refuses with a 400 before the plugin sees anything.
    const payload = JSON.stringify({ username, password })
    const expected = expectedFor(payload)
    if (typeof expected === 'number') logins++
    await checkLogin(app, payload, expected)
  }), runs(300))
  t.ok(logins >= 12 * FACTOR, `${300 * FACTOR} credential pairs, ${logins} of them real logins: both sides of the oracle were tried`)
})

t.test('credentials: keys that poison prototypes and extra fields never log anyone in', async t => {
  const app = await buildApp(t)
  const poison = fc.constantFrom('__proto__', 'constructor', 'prototype', 'toString', 'valueOf', 'hasOwnProperty')
  const key = fc.oneof(poison, fc.constantFrom('username', 'password'), fc.string())
  const field = fc.tuple(key, fc.oneof(anyJson, usernameArb, passwordArb))
  await fc.assert(fc.asyncProperty(fc.array(field, { maxLength: 4 }), async (fields) => {
    // Written by hand so that "__proto__" is an own key of the JSON text, as an attacker would send it.
    const payload = `{${fields.map(([key, value]) => `${JSON.stringify(key)}:${JSON.stringify(value)}`).join(',')}}`
    await checkLogin(app, payload, expectedFor(payload))
  }), runs(300))
  t.pass(`${300 * FACTOR} bodies with prototype keys`)
})

t.test('credentials: any string as the JSON body gets 400 or the oracle\'s answer, never 5xx', async t => {
  const app = await buildApp(t)
  const withPassword = ACCOUNTS.filter(account => account.plain !== undefined)
  const valid = fc.constantFrom(...withPassword.map(a => JSON.stringify({ username: a.username, password: a.plain })))
  const body = fc.oneof(
    fc.string({ unit: 'binary' }),
    fc.json({ stringUnit: 'binary', maxDepth: 2 }),
    // A real login, cut or with a character changed: must fail cleanly or parse to something the oracle judges.
    fc.tuple(valid, fc.nat(), fc.string({ minLength: 1, maxLength: 1 }))
      .map(([v, i, c]) => v.slice(0, i % v.length) + c + v.slice(i % v.length + 1)),
    fc.tuple(valid, fc.nat()).map(([v, i]) => v.slice(0, i % v.length)),
    valid
  )
  await fc.assert(fc.asyncProperty(body, async (payload) => {
    await checkLogin(app, payload, expectedFor(payload))
  }), runs(400))
  t.pass(`${400 * FACTOR} raw bodies`)
})

/** Characters a cookie header can carry over HTTP: tab, printable ASCII, and the Latin-1 upper half. */
const headerChar = fc.oneof(
  fc.integer({ min: 0x20, max: 0x7e }),
  fc.integer({ min: 0x80, max: 0xff }),
  fc.constant(0x09)
).map(code => String.fromCharCode(code))
const cookieSyntax = fc.constantFrom(';', '=', ' ', '"', ',', '%', '.', 's:', 'sessionId', '%FF', '%25', '\\')
const headerString = (maxLength = 200): fc.Arbitrary<string> =>
  fc.array(fc.oneof(headerChar, cookieSyntax), { maxLength }).map(parts => parts.join(''))

interface Sessions {
  app: FastifyInstance
  /** alice's session cookie value (`id.signature`) and bob's, both logged in. */
  alice: string
  bob: string
}

async function loggedInSessions (t: { teardown: (fn: () => unknown) => void }): Promise<Sessions> {
  const app = await buildApp(t)
  const valueOf = async (username: string, password: string): Promise<string> => {
    const cookie = cookieFrom(await login(app, JSON.stringify({ username, password })))
    if (cookie === undefined) throw new Error(`could not log in ${username}`)
    return cookie.slice('sessionId='.length)
  }
  return { app, alice: await valueOf('alice', 'p\u00e4ssword'), bob: await valueOf('bob', 'hunter2') }
}

t.test('cookies: any cookie header is answered, anonymous unless it holds alice\'s exact session cookie', async t => {
  const { app, alice } = await loggedInSessions(t)
  t.equal((await whoami(app, `sessionId=${alice}`)).id, 1, 'the real cookie works')
  // Pairs mixing junk with alice's cookie, under her cookie's name and others, repeated and in any order.
  const pair = fc.tuple(
    fc.oneof(fc.constant('sessionId'), fc.constant(' sessionId'), headerString(12)),
    fc.oneof(fc.constant(alice), headerString(60), fc.constant(`"${alice}"`), fc.constant(encodeURIComponent(alice)))
  ).map(([name, value]) => `${name}=${value}`)
  const header = fc.oneof(
    headerString(),
    fc.array(pair, { minLength: 1, maxLength: 4 }).map(pairs => pairs.join('; ')),
    fc.tuple(headerString(40), fc.constant(`sessionId=${alice}`), headerString(40)).map(parts => parts.join(''))
  )
  let asAlice = 0
  await fc.assert(fc.asyncProperty(header, async (cookie) => {
    // The oracle: alice exactly when the cookie parser reads her exact session cookie value, else nobody.
    const expected = app.parseCookie(cookie).sessionId === alice ? 1 : null
    if (expected === 1) asAlice++
    const seen = await whoami(app, cookie)
    if (seen.statusCode !== 200) throw new Error(`cookie ${JSON.stringify(cookie)}: ${seen.statusCode}`)
    if (seen.id !== expected) throw new Error(`cookie ${JSON.stringify(cookie)} authenticated ${String(seen.id)}, expected ${expected}`)
  }), runs(600))
  t.ok(asAlice > 0 && asAlice < 600 * FACTOR, `${600 * FACTOR} headers, ${asAlice} with alice's cookie: both sides were tried`)
})

t.test('session ids: every mutation of a logged-in cookie is anonymous, or alice when it reads the same', async t => {
  const { app, alice, bob } = await loggedInSessions(t)
  const [aliceId, aliceSig] = alice.split('.') as [string, string]
  const [bobId, bobSig] = bob.split('.') as [string, string]
  const at = (value: string, i: number): number => i % (value.length + 1)
  const mutation = fc.oneof(
    fc.tuple(fc.nat(), headerChar).map(([i, c]) => alice.slice(0, at(alice, i)) + c + alice.slice(at(alice, i) + 1)),
    fc.tuple(fc.nat(), headerChar).map(([i, c]) => alice.slice(0, at(alice, i)) + c + alice.slice(at(alice, i))),
    fc.nat().map(i => alice.slice(0, at(alice, i)) + alice.slice(at(alice, i) + 1)),
    fc.nat().map(i => alice.slice(0, at(alice, i))),
    headerString(20).map(junk => alice + junk),
    headerString(20).map(junk => junk + alice),
    // Percent-encoding a character reads back as the same cookie: that one must still be alice.
    fc.nat().map(i => {
      const j = i % alice.length
      return alice.slice(0, j) + `%${alice.charCodeAt(j).toString(16).toUpperCase().padStart(2, '0')}` + alice.slice(j + 1)
    }),
    fc.constantFrom(
      `${aliceId}.${bobSig}`, `${bobId}.${aliceSig}`, `${bobId}.${bobSig}.${aliceSig}`, aliceId, `${aliceId}.`,
      `.${aliceSig}`, `${aliceId}.${aliceSig}=`, `${aliceId}.${aliceSig}==`, alice.toUpperCase(), alice.toLowerCase(),
      `s:${alice}`, `${aliceId}.${aliceSig.replace(/-/g, '+').replace(/_/g, '/')}`, `${aliceId}..${aliceSig}`,
      `auth-login:${aliceId}.${aliceSig}`
    ),
    fc.mixedCase(fc.constant(alice))
  )
  let asAlice = 0
  await fc.assert(fc.asyncProperty(mutation, async (value) => {
    const cookie = `sessionId=${value}`
    const expected = app.parseCookie(cookie).sessionId === alice ? 1 : null
    if (expected === 1) asAlice++
    const seen = await whoami(app, cookie)
    if (seen.statusCode !== 200) throw new Error(`${JSON.stringify(value)}: ${seen.statusCode}`)
    if (seen.id !== expected) throw new Error(`${JSON.stringify(value)} authenticated ${String(seen.id)}, expected ${expected}`)
  }), runs(600))
  t.ok(asAlice > 0 && asAlice < 600 * FACTOR, `${600 * FACTOR} mutations, ${asAlice} of them reading back as alice's cookie`)
  t.equal((await whoami(app, `sessionId=${alice}`)).id, 1, 'alice is still logged in after all that')
  t.equal((await whoami(app, `sessionId=${bob}`)).id, 2, 'and so is bob')
})

// A stateful property: browsers (cookie jars) log in and out as alice and bob, with right and wrong passwords, replay
// any cookie they ever held, and passwords change. A model says who every cookie ever issued must authenticate as.

interface Model {
  /** Every session cookie value ever issued, and the user it must authenticate as now (null: nobody). */
  cookies: Map<string, number | null>
  /** Each jar's current session cookie value. */
  jars: Array<string | undefined>
  history: string[]
  passwords: Map<number, string>
  changes: number
}

interface Real {
  app: FastifyInstance
  users: TestUsers
}

const JARS = 3
const USERS = [1, 2]

function cookieHeader (value: string | undefined): Record<string, string> {
  return value === undefined ? {} : { cookie: `sessionId=${value}` }
}

/** What a browser does with the response's Set-Cookie: adopt a new session cookie, drop an expired one. */
function store (m: Model, jar: number, response: LightMyRequestResponse): void {
  const set = response.cookies.find(cookie => cookie.name === 'sessionId')
  if (set === undefined) return
  const expired = set.value === '' || (set.expires !== undefined && set.expires.getTime() <= Date.now()) || set.maxAge === 0
  m.jars[jar] = expired ? undefined : set.value
  if (!expired && !m.cookies.has(set.value)) {
    m.cookies.set(set.value, null)
    m.history.push(set.value)
  }
}

async function expectWho (m: Model, r: Real, jar: number, label: string): Promise<void> {
  const value = m.jars[jar]
  const expected = value === undefined ? null : m.cookies.get(value) ?? null
  const response = await r.app.inject({ url: '/whoami', headers: cookieHeader(value) })
  if (response.statusCode !== 200) throw new Error(`${label}: whoami answered ${response.statusCode}`)
  if (response.json().id !== expected) throw new Error(`${label}: jar ${jar} is ${response.json().id}, the model says ${expected}`)
  store(m, jar, response)
}

class Login implements fc.AsyncCommand<Model, Real> {
  constructor (readonly jar: number, readonly user: number, readonly correct: boolean) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const before = m.jars[this.jar]
    const username = ACCOUNTS.find(a => a.id === this.user)?.username
    const password = this.correct ? m.passwords.get(this.user) : 'wrong-password'
    const response = await r.app.inject({
      method: 'POST',
      url: '/login',
      headers: { ...cookieHeader(before), 'content-type': 'application/json' },
      payload: JSON.stringify({ username, password })
    })
    if (!this.correct) {
      if (response.statusCode !== 401) throw new Error(`${this}: ${response.statusCode}`)
      store(m, this.jar, response)
      return
    }
    const issued = cookieFrom(response)?.slice('sessionId='.length)
    if (response.statusCode !== 200 || issued === undefined || issued === before) {
      throw new Error(`${this}: ${response.statusCode}, cookie ${issued}`)
    }
    // A login ends the session it was made on (fixation) and issues a new cookie for this user only.
    if (before !== undefined) m.cookies.set(before, null)
    store(m, this.jar, response)
    m.cookies.set(issued, this.user)
  }

  toString (): string { return `login(jar ${this.jar}, user ${this.user}, ${this.correct ? 'right' : 'wrong'} password)` }
}

class Logout implements fc.AsyncCommand<Model, Real> {
  constructor (readonly jar: number) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const before = m.jars[this.jar]
    const response = await r.app.inject({ method: 'POST', url: '/logout', headers: cookieHeader(before) })
    if (response.statusCode !== 200) throw new Error(`${this}: ${response.statusCode}`)
    if (before !== undefined) m.cookies.set(before, null)
    store(m, this.jar, response)
  }

  toString (): string { return `logout(jar ${this.jar})` }
}

class WhoAmI implements fc.AsyncCommand<Model, Real> {
  constructor (readonly jar: number) {}
  check (): boolean { return true }
  run (m: Model, r: Real): Promise<void> { return expectWho(m, r, this.jar, this.toString()) }
  toString (): string { return `whoami(jar ${this.jar})` }
}

class Replay implements fc.AsyncCommand<Model, Real> {
  constructor (readonly jar: number, readonly pick: number) {}
  check (m: Readonly<Model>): boolean { return m.history.length > 0 }
  run (m: Model, r: Real): Promise<void> {
    m.jars[this.jar] = m.history[this.pick % m.history.length]
    return expectWho(m, r, this.jar, this.toString())
  }

  toString (): string { return `replay(jar ${this.jar}, old cookie #${this.pick})` }
}

class ChangePassword implements fc.AsyncCommand<Model, Real> {
  constructor (readonly user: number) {}
  check (): boolean { return true }
  async run (m: Model, r: Real): Promise<void> {
    const plain = `changed-${++m.changes % 3}-${this.user}`
    // A fresh hash, as a real password change makes: the old hash string never comes back.
    ;(r.users.byId.get(this.user) as TestUser).password = await hashOf(plain)
    m.passwords.set(this.user, plain)
    // The hash changed (a new salt, even for a password used before): every login made before it ends.
    for (const [value, user] of m.cookies) if (user === this.user) m.cookies.set(value, null)
  }

  toString (): string { return `changePassword(user ${this.user})` }
}

t.test('stateful: no sequence of logins, logouts, replays and password changes authenticates a cookie as the wrong user', async t => {
  const jar = fc.nat({ max: JARS - 1 })
  const user = fc.constantFrom(...USERS)
  const commands = fc.commands([
    fc.tuple(jar, user, fc.boolean()).map(([j, u, c]) => new Login(j, u, c)),
    jar.map(j => new Logout(j)),
    jar.map(j => new WhoAmI(j)),
    fc.tuple(jar, fc.nat()).map(([j, p]) => new Replay(j, p)),
    user.map(u => new ChangePassword(u))
  ], { maxCommands: 25 })
  let sequences = 0
  await fc.assert(fc.asyncProperty(commands, async (cmds) => {
    sequences++
    const users = new TestUsers()
    const app = await buildApp({ teardown: () => {} }, users)
    try {
      const passwords = new Map(USERS.map(id => [id, ACCOUNTS.find(a => a.id === id)?.plain as string]))
      const model: Model = { cookies: new Map(), jars: Array(JARS).fill(undefined), history: [], changes: 0, passwords }
      await fc.asyncModelRun(() => ({ model, real: { app, users } }), cmds)
      // Finally every cookie ever issued is asked once more.
      for (const [value, expected] of model.cookies) {
        const seen = await whoami(app, `sessionId=${value}`)
        if (seen.id !== expected) throw new Error(`old cookie ${value} is ${String(seen.id)}, the model says ${expected}`)
      }
    } finally {
      await app.close()
    }
  }), runs(60))
  t.equal(sequences >= 60, true, `${sequences} sequences of up to 25 steps`)
})
