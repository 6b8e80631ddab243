import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import csrf from '@fastify/csrf-protection'
import { type TestUsers, build, cookieFrom, hashOf } from '../helper'
import { assertReadmeShowsRecipe } from './kit'

// Row 15 of the security suite. A session cookie is sent by the browser with every request to the site, whoever
// made the page that sends it: without a per-session token, a page on another site can post to a state-changing
// route as the logged-in user. The recipe below (shown in the README) is attacked here through app.inject.

declare module 'fastify' {
  interface Session {
    _csrf?: string
  }
}

interface Teardown { teardown: (fn: () => unknown) => void }
interface Asserts { equal: (found: unknown, wanted: unknown, message?: string) => boolean }

interface Built {
  app: FastifyInstance
  users: TestUsers
  ledger: Array<{ user: unknown, amount: unknown }>
}

/**
 * The README's recipe, with routes a bank would have: GET /login gives an anonymous visitor a token for the login
 * form, POST /login logs in, GET /transfer gives the logged-in form's token, POST /transfer moves money.
 * `rotateOnLogin: []` turns off the plugin's CSRF secret rotation at login, to prove that it is needed.
 */
async function buildCsrfApp (t: Teardown, { rotateOnLogin }: { rotateOnLogin?: string[] } = {}): Promise<Built> {
  const ledger: Built['ledger'] = []
  const { app, users } = await build(t, {
    plugin: rotateOnLogin === undefined ? {} : { rotateOnLogin },
    routes: false,
    extend: async app => {
      await recipe(app)
      app.get('/transfer', { preHandler: app.requireUser }, async (request, reply) => ({ csrfToken: reply.generateCsrf() }))
      app.post('/transfer', { preHandler: app.requireUser }, async (request) => {
        ledger.push({ user: request.getUserId(), amount: (request.body as { amount: unknown }).amount })
        return { ok: true }
      })
      app.post('/logout', async (request) => {
        await request.logout()
        return { ok: true }
      })
      app.get('/whoami', async (request) => ({ id: request.getUserId() }))
    }
  })
  users.add({ id: 1, username: 'victim', password: await hashOf('victim-pw') })
  users.add({ id: 2, username: 'attacker', password: await hashOf('attacker-pw') })
  return { app, users, ledger }
}

/** The recipe itself, as README.md shows it: the CSRF plugin, the hook that checks the token, the login routes. */
async function recipe (app: FastifyInstance): Promise<void> {
  // recipe:csrf:start
  await app.register(csrf, { sessionPlugin: '@fastify/session' })

  // Every request that can change state must carry the token; reading needs none.
  const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS'])
  app.addHook('preHandler', function checkCsrfToken (request, reply, done) {
    if (SAFE_METHODS.has(request.method)) return done()
    app.csrfProtection(request, reply, done)
  })

  app.get('/login', async (request, reply) => ({ csrfToken: reply.generateCsrf() }))

  app.post('/login', async (request, reply) => {
    const { username, password } = (request.body ?? {}) as { username?: unknown, password?: unknown }
    const user = await request.authenticate(username as string, password as string)
    // login drops the CSRF secret (`rotateOnLogin`), so this token is made from a new one.
    await request.login({ user })
    return { csrfToken: reply.generateCsrf() }
  })
  // recipe:csrf:end
}

interface Visit {
  cookie: string
  token: string
}

/** An anonymous visitor opens the login form: a session cookie and the form's token. */
async function openLoginForm (app: FastifyInstance): Promise<Visit> {
  const response = await app.inject({ url: '/login' })
  const cookie = cookieFrom(response)
  if (response.statusCode !== 200 || cookie === undefined) throw new Error(`GET /login: ${response.statusCode}`)
  return { cookie, token: response.json().csrfToken }
}

/** The real login form: a session cookie and the logged-in session's token. */
async function logIn (app: FastifyInstance, username: string, password: string, visit?: Visit, url = '/login'): Promise<Visit> {
  const form = visit ?? await openLoginForm(app)
  const response = await app.inject({
    method: 'POST', url, headers: { cookie: form.cookie }, payload: { username, password, _csrf: form.token }
  })
  const cookie = cookieFrom(response)
  if (response.statusCode !== 200 || cookie === undefined) throw new Error(`POST ${url}: ${response.statusCode} ${response.body}`)
  return { cookie, token: response.json().csrfToken }
}

function transfer (
  app: FastifyInstance, cookie: string | undefined, body: Record<string, unknown>, headers: Record<string, string> = {}
): Promise<LightMyRequestResponse> {
  return app.inject({
    method: 'POST', url: '/transfer', headers: cookie === undefined ? headers : { cookie, ...headers }, payload: body
  })
}

async function whoami (app: FastifyInstance, cookie: string): Promise<unknown> {
  return (await app.inject({ url: '/whoami', headers: { cookie } })).json().id
}

function assertForbidden (t: Asserts, response: LightMyRequestResponse, code = 'FST_CSRF_INVALID_TOKEN'): void {
  t.equal(response.statusCode, 403, 'refused with 403')
  t.equal(response.json().code, code, code)
}

t.test('the real form works: a token from the session, in the body or a header, lets the POST through', async t => {
  const { app, ledger } = await buildCsrfApp(t)
  const victim = await logIn(app, 'victim', 'victim-pw')
  t.equal(await whoami(app, victim.cookie), 1)

  const inBody = await transfer(app, victim.cookie, { amount: 10, _csrf: victim.token })
  t.equal(inBody.statusCode, 200)
  const inHeader = await transfer(app, victim.cookie, { amount: 20 }, { 'x-csrf-token': victim.token })
  t.equal(inHeader.statusCode, 200)
  const form = await app.inject({ url: '/transfer', headers: { cookie: victim.cookie } })
  const fromForm = await transfer(app, victim.cookie, { amount: 30, _csrf: form.json().csrfToken })
  t.equal(fromForm.statusCode, 200, 'a fresh token from the same session works too')
  t.same(ledger, [{ user: 1, amount: 10 }, { user: 1, amount: 20 }, { user: 1, amount: 30 }])
})

t.test('a forged POST carrying the victim\'s cookie is refused with 403 and changes nothing', async t => {
  const { app, ledger } = await buildCsrfApp(t)
  const victim = await logIn(app, 'victim', 'victim-pw')
  const attacker = await logIn(app, 'attacker', 'attacker-pw')
  const attackerAnonymous = await openLoginForm(app)
  const [salt, digest] = victim.token.split('-') as [string, string]
  const flipped = digest.slice(0, -1) + (digest.endsWith('A') ? 'B' : 'A')

  const forgeries: Array<[string, Record<string, unknown>, Record<string, string>?]> = [
    ['no token', { amount: 1 }],
    ['an empty token', { amount: 1, _csrf: '' }],
    ['a random token', { amount: 1, _csrf: 'not-a-token' }],
    ['a token without a dash', { amount: 1, _csrf: 'x'.repeat(victim.token.length) }],
    ['the victim\'s token with one character changed', { amount: 1, _csrf: `${salt}-${flipped}` }],
    ['the victim\'s token truncated', { amount: 1, _csrf: victim.token.slice(0, -1) }],
    ['the victim\'s token with a character added', { amount: 1, _csrf: `${victim.token}A` }],
    ['the victim\'s salt with another digest', { amount: 1, _csrf: `${salt}-${attacker.token.split('-')[1]}` }],
    ['a token from the attacker\'s own logged-in session', { amount: 1, _csrf: attacker.token }],
    ['a token from an anonymous session', { amount: 1, _csrf: attackerAnonymous.token }],
    ['the attacker\'s token in a header', { amount: 1 }, { 'x-csrf-token': attacker.token }],
    ['a token as an array', { amount: 1, _csrf: [victim.token] }],
    ['a token as an object', { amount: 1, _csrf: { toString: victim.token } }]
  ]
  for (const [name, body, headers] of forgeries) {
    const response = await transfer(app, victim.cookie, body, headers)
    t.equal(response.statusCode, 403, `${name}: 403`)
    t.equal(response.json().code, 'FST_CSRF_INVALID_TOKEN', `${name}: the CSRF error`)
  }
  t.same(ledger, [], 'no forged transfer went through')
  t.equal(await whoami(app, victim.cookie), 1, 'the victim is still logged in: a forgery does not end their session')
  t.equal((await transfer(app, victim.cookie, { amount: 5, _csrf: victim.token })).statusCode, 200,
    'and their own form still works after the forgeries')
})

t.test('a token without the session it belongs to is refused', async t => {
  const { app, ledger } = await buildCsrfApp(t)
  const victim = await logIn(app, 'victim', 'victim-pw')
  assertForbidden(t, await transfer(app, undefined, { amount: 1, _csrf: victim.token }), 'FST_CSRF_MISSING_SECRET')
  const anonymous = await openLoginForm(app)
  // A session with a CSRF secret but no login: the token checks out, the login check is what refuses.
  const noLogin = await transfer(app, anonymous.cookie, { amount: 1, _csrf: anonymous.token })
  t.equal(noLogin.statusCode, 401)
  t.same(ledger, [])
})

t.test('login CSRF: a forged login form cannot log the victim\'s browser into the attacker\'s account', async t => {
  const { app } = await buildCsrfApp(t)
  // The victim has an anonymous session on the site; the attacker's page posts the attacker's credentials.
  const victim = await openLoginForm(app)
  const attackerForm = await openLoginForm(app)
  for (const [name, csrfToken] of [['no token', undefined], ['the attacker\'s token', attackerForm.token]] as const) {
    const forged = await app.inject({
      method: 'POST',
      url: '/login',
      headers: { cookie: victim.cookie },
      payload: { username: 'attacker', password: 'attacker-pw', ...(csrfToken === undefined ? {} : { _csrf: csrfToken }) }
    })
    assertForbidden(t, forged)
    t.equal(cookieFrom(forged), undefined, `${name}: no session cookie is set`)
    t.equal(await whoami(app, victim.cookie), null, `${name}: the victim's browser is not logged in as anyone`)
  }
  const real = await logIn(app, 'victim', 'victim-pw', victim)
  t.equal(await whoami(app, real.cookie), 1, 'the victim\'s own form logs them in')
})

t.test('a CSRF secret planted before login does not survive it: login rotates it', async t => {
  // The attacker opens the login form, keeps its token and tosses the session cookie into the victim's browser
  // (from a sibling subdomain, say). The victim logs in with that cookie: the plugin gives the session a new id and
  // keeps an anonymous visitor's data across login, all but the CSRF secret (`rotateOnLogin`).
  for (const [name, rotateOnLogin] of [['by default', undefined], ['with rotateOnLogin: []', []]] as const) {
    const { app, ledger } = await buildCsrfApp(t, rotateOnLogin === undefined ? {} : { rotateOnLogin: [...rotateOnLogin] })
    const planted = await openLoginForm(app)
    const victim = await logIn(app, 'victim', 'victim-pw', planted)
    t.not(victim.cookie, planted.cookie, `${name}: the session id changed at login`)
    const forged = await transfer(app, victim.cookie, { amount: 1000, _csrf: planted.token })
    if (rotateOnLogin === undefined) {
      assertForbidden(t, forged)
      t.same(ledger, [], `${name}: the planted token is dead`)
    } else {
      t.equal(forged.statusCode, 200, `${name}: the planted token works, so the rotation is what stops it`)
      t.same(ledger, [{ user: 1, amount: 1000 }])
    }
  }
})

t.test('logout: a forged logout is refused, and a token from before logout is dead after it', async t => {
  const { app, ledger } = await buildCsrfApp(t)
  const victim = await logIn(app, 'victim', 'victim-pw')
  const forged = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: victim.cookie } })
  assertForbidden(t, forged)
  t.equal(await whoami(app, victim.cookie), 1, 'the forged logout did not log the victim out')

  const out = await app.inject({
    method: 'POST', url: '/logout', headers: { cookie: victim.cookie, 'x-csrf-token': victim.token }
  })
  t.equal(out.statusCode, 200)
  t.equal(await whoami(app, victim.cookie), null)
  // Logged in again from the same browser: the pre-logout token belongs to a session that no longer exists.
  const again = await logIn(app, 'victim', 'victim-pw')
  assertForbidden(t, await transfer(app, again.cookie, { amount: 1, _csrf: victim.token }))
  t.same(ledger, [])
})

t.test('reading routes need no token', async t => {
  const { app } = await buildCsrfApp(t)
  const victim = await logIn(app, 'victim', 'victim-pw')
  for (const method of ['GET', 'HEAD'] as const) {
    const response = await app.inject({ method, url: '/whoami', headers: { cookie: victim.cookie } })
    t.equal(response.statusCode, 200, method)
  }
})

t.test('the README shows this recipe as tested', async t => {
  assertReadmeShowsRecipe(t, __filename, 'csrf')
})
