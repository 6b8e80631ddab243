import t from 'tap'
import { MemoryStore } from '@fastify/session'
import { DEMO_CREDENTIALS } from '../../examples/demo/app.js'
import { cookieFrom } from '../helper'
import { demo, post, signIn, visit } from './helper'

// The demo's pages through app.inject: fast, and every branch of examples/demo/app.js and page.js.

const SIGNED_IN = `Signed in as ${DEMO_CREDENTIALS.username}`

t.test('signed out, the page is a CSRF-protected sign-in form served with safe headers', async t => {
  const app = await demo(t)
  const response = await app.inject({ url: '/' })
  t.equal(response.statusCode, 200)
  t.match(response.headers['content-type'], /^text\/html/)
  t.match(response.body, /<input id="username" name="username"/)
  t.match(response.body, /<input id="password" name="password" type="password"/)
  t.match(response.body, /<button type="submit">Sign in<\/button>/)
  t.match(response.body, /name="_csrf" value="[\w-]+"/)
  t.notMatch(response.body, /Signed in as/)
  t.equal(response.headers['cache-control'], 'no-store')
  t.match(response.headers['content-security-policy'], /default-src 'none'.*frame-ancestors 'none'/)
  const cookie = response.cookies.find(c => c.name === 'sessionId')
  t.ok(cookie, 'the CSRF secret is kept in a session')
  t.equal(cookie?.httpOnly, true)
  t.equal(cookie?.sameSite, 'Lax')
  t.notOk(cookie?.secure, 'plain http: a Secure cookie would never come back')

  const style = await app.inject({ url: '/style.css' })
  t.equal(style.statusCode, 200)
  t.match(style.headers['content-type'], /^text\/css/)
  t.match(style.body, /main \{/)
})

t.test('served over https behind a TLS proxy (trustProxy), the session cookie is a Secure __Host- cookie', async t => {
  const app = await demo(t, { trustProxy: '127.0.0.1' })
  const https = { 'x-forwarded-proto': 'https' }
  const home = await app.inject({ url: '/', headers: https })
  const cookie = home.cookies.find(c => c.name === '__Host-sid')
  t.ok(cookie, 'named with the __Host- prefix')
  t.equal(cookie?.secure, true)
  t.equal(cookie?.path, '/')
  t.notOk(cookie?.domain, 'no Domain, as browsers require of a __Host- cookie')
  t.notOk(home.cookies.find(c => c.name === 'sessionId'))
  const token = /name="_csrf" value="([^"]+)"/.exec(home.body)?.[1] as string
  const login = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { ...https, cookie: `__Host-sid=${cookie?.value as string}`, 'content-type': 'application/x-www-form-urlencoded' },
    payload: new URLSearchParams({ _csrf: token, ...DEMO_CREDENTIALS }).toString()
  })
  t.equal(login.statusCode, 303)
  const signedIn = login.cookies.find(c => c.name === '__Host-sid') as { value: string }
  const page = await app.inject({ url: '/', headers: { ...https, cookie: `__Host-sid=${signedIn.value}` } })
  t.match(page.body, new RegExp(SIGNED_IN), 'and it signs in')
})

t.test('a wrong password answers 401 with the form and an error, and signs nobody in', async t => {
  const app = await demo(t)
  const page = await visit(app)
  for (const [username, password] of [[DEMO_CREDENTIALS.username, 'wrong'], ['nobody@example.com', DEMO_CREDENTIALS.password]]) {
    const response = await signIn(app, username as string, password as string, page)
    t.equal(response.statusCode, 401)
    t.match(response.body, /role="alert">Invalid username or password</)
    t.match(response.body, /id="sign-in"/)
    t.match(response.body, new RegExp(`name="username" [^>]*value="${username}"`), 'the email is kept, the password is not')
    t.notMatch(response.body, /Signed in as/)
    t.notOk(cookieFrom(response), 'no new session')
  }
  t.notMatch((await visit(app, page.cookie)).body, /Signed in as/)
})

t.test('the right password signs in under a new session id, and the page shows the user', async t => {
  const app = await demo(t)
  const page = await visit(app)
  // Emails are matched case-insensitively, as users type them.
  const response = await signIn(app, ' Demo@Example.com', DEMO_CREDENTIALS.password, page)
  t.equal(response.statusCode, 303)
  t.equal(response.headers.location, '/')
  const cookie = cookieFrom(response)
  t.ok(cookie)
  t.not(cookie, page.cookie, 'login rotates the session id')

  const signedIn = await visit(app, cookie)
  t.match(signedIn.body, new RegExp(`<p id="status">${SIGNED_IN}</p>`))
  t.match(signedIn.body, /<form method="post" action="\/logout" id="sign-out">/)
  t.notMatch(signedIn.body, /\$argon2/, 'the page never shows the password hash')
  t.notMatch((await visit(app, page.cookie)).body, /Signed in as/, 'the pre-login session id signs nobody in')
})

t.test('sign-in rotates the CSRF secret: tokens of the signed-out session are void afterwards', async t => {
  const app = await demo(t)
  const before = await visit(app)
  const cookie = cookieFrom(await signIn(app, DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password, before))
  const refused = await post(app, '/logout', cookie, { _csrf: before.token })
  t.equal(refused.statusCode, 403, 'whoever saw the signed-out page cannot post as the signed-in user')
  const after = await visit(app, cookie)
  t.match(after.body, new RegExp(SIGNED_IN))
  t.equal((await post(app, '/logout', cookie, { _csrf: after.token })).statusCode, 303, 'the new token works')
})

t.test('a form body larger than a form needs is refused', async t => {
  const app = await demo(t)
  const page = await visit(app)
  const response = await signIn(app, 'x'.repeat(20_000), 'wrong', page)
  t.equal(response.statusCode, 413)
  t.match(response.headers['content-type'], /^text\/html/)
})

t.test('sign-out returns to the form, and the signed-in cookie no longer works', async t => {
  const app = await demo(t)
  const cookie = cookieFrom(await signIn(app, DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password))
  const { token } = await visit(app, cookie)
  const response = await post(app, '/logout', cookie, { _csrf: token })
  t.equal(response.statusCode, 303)
  t.equal(response.headers.location, '/')
  const after = await visit(app, cookieFrom(response) ?? cookie)
  t.match(after.body, /id="sign-in"/)
  t.notMatch(after.body, /Signed in as/)
  t.notMatch((await visit(app, cookie)).body, /Signed in as/, 'the old cookie is dead')
})

t.test('forms without a valid CSRF token are refused with 403 and change nothing', async t => {
  const app = await demo(t)
  const page = await visit(app)
  const other = await visit(app)
  const credentials = { username: DEMO_CREDENTIALS.username, password: DEMO_CREDENTIALS.password }
  const attempts = [
    { name: 'no session at all', cookie: undefined, form: { _csrf: page.token, ...credentials } },
    { name: 'no token', cookie: page.cookie, form: credentials },
    { name: 'a forged token', cookie: page.cookie, form: { _csrf: `${page.token.slice(0, -2)}xx`, ...credentials } },
    { name: "another visitor's token", cookie: page.cookie, form: { _csrf: other.token, ...credentials } }
  ]
  for (const { name, cookie, form } of attempts) {
    const response = await post(app, '/login', cookie, form)
    t.equal(response.statusCode, 403, name)
    t.match(response.body, /This form has expired or did not come from this page/, name)
    t.notOk(cookieFrom(response), `${name}: no session is issued`)
  }
  t.notMatch((await visit(app, page.cookie)).body, /Signed in as/)

  const cookie = cookieFrom(await signIn(app, DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password))
  const refused = await post(app, '/logout', cookie, { _csrf: page.token })
  t.equal(refused.statusCode, 403, 'a cross-site form cannot sign the user out')
  t.match((await visit(app, cookie)).body, new RegExp(SIGNED_IN))
})

t.test('sign-in is rate limited per account, counting every attempt, the right password included', async t => {
  const app = await demo(t, { loginLimit: { perAccount: 3, perAddress: 100, timeWindow: 60_000 } })
  const page = await visit(app)
  for (let i = 0; i < 3; i++) t.equal((await signIn(app, DEMO_CREDENTIALS.username, 'wrong', page)).statusCode, 401)

  for (const username of [DEMO_CREDENTIALS.username, 'DEMO@example.com ']) {
    const limited = await signIn(app, username, DEMO_CREDENTIALS.password, page)
    t.equal(limited.statusCode, 429, `${JSON.stringify(username)} shares the account's budget`)
    t.ok(Number(limited.headers['retry-after']) > 0, 'says when to retry')
    t.match(limited.body, /Too many sign-in attempts for this account/)
    t.notOk(cookieFrom(limited), 'the right password does not get through')
  }
  t.notMatch((await visit(app, page.cookie)).body, /Signed in as/)

  const otherAccount = await signIn(app, 'someone-else@example.com', 'wrong', page)
  t.equal(otherAccount.statusCode, 401, 'another account keeps its own budget')
})

t.test('sign-in is rate limited per address, whatever the accounts tried', async t => {
  const app = await demo(t, { loginLimit: { perAccount: 2, perAddress: 2, timeWindow: 60_000 } })
  const page = await visit(app)
  const from = (remoteAddress: string, password: string) => app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: page.cookie ?? '' },
    payload: new URLSearchParams({ _csrf: page.token, username: DEMO_CREDENTIALS.username, password }).toString()
  })
  for (const username of ['ann@example.com', 'bob@example.com']) {
    t.equal((await signIn(app, username, 'wrong', page)).statusCode, 401)
  }
  const limited = await from('127.0.0.1', DEMO_CREDENTIALS.password)
  t.equal(limited.statusCode, 429)
  t.ok(Number(limited.headers['retry-after']) > 0)
  t.match(limited.body, /Too many sign-in attempts from this address/)
  t.notOk(cookieFrom(limited))

  // Two attempts on the account from elsewhere fit its budget of two only if the refused one above was not charged.
  t.equal((await from('192.0.2.7', 'wrong')).statusCode, 401)
  t.equal((await from('192.0.2.7', DEMO_CREDENTIALS.password)).statusCode, 303,
    'another address has its own budget, and a refused attempt costs the account nothing')
})

t.test('guesses sent all at once are held to the limit too', async t => {
  const app = await demo(t, { loginLimit: { perAccount: 3, perAddress: 100, timeWindow: 60_000 } })
  const page = await visit(app)
  const responses = await Promise.all(Array.from({ length: 10 }, () =>
    signIn(app, DEMO_CREDENTIALS.username, 'wrong', page)))
  const codes = responses.map(r => r.statusCode).sort()
  t.same(codes, [401, 401, 401, 429, 429, 429, 429, 429, 429, 429])
})

t.test('what the visitor typed is escaped on the way back', async t => {
  const app = await demo(t)
  const hostile = '"><script>alert(1)</script>'
  const response = await signIn(app, hostile, 'wrong')
  t.equal(response.statusCode, 401)
  t.notMatch(response.body, /<script>/)
  t.match(response.body, /value="&quot;&gt;&lt;script&gt;alert\(1\)&lt;\/script&gt;"/)

  const page = await visit(app)
  const repeated = await app.inject({
    method: 'POST',
    url: '/login',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: page.cookie ?? '' },
    payload: `_csrf=${page.token}&username=a&username=b&password=x`
  })
  t.equal(repeated.statusCode, 401, 'a username sent twice is no username')
  t.match(repeated.body, /name="username" [^>]*value=""/)

  const empty = await app.inject({
    method: 'POST', url: '/login', headers: { 'x-csrf-token': page.token, cookie: page.cookie ?? '' }
  })
  t.equal(empty.statusCode, 401, 'no body at all: no credentials')
})

t.test('errors come back as the page: 415 for a body it cannot read, 503 when the session store fails', async t => {
  const app = await demo(t)
  const page = await visit(app)
  const response = await app.inject({
    method: 'POST', url: '/login', headers: { 'content-type': 'application/xml', cookie: page.cookie ?? '' }, payload: '<a/>'
  })
  t.equal(response.statusCode, 415)
  t.match(response.headers['content-type'], /^text\/html/)
  t.match(response.body, /role="alert">Unsupported Media Type/)

  const store = new MemoryStore()
  const broken = await demo(t, { sessionStore: store })
  const { cookie } = await visit(broken)
  store.get = (_sid: string, callback: (err: Error) => void) => callback(new Error('the store is down'))
  const failed = await broken.inject({ url: '/', headers: { cookie: cookie ?? '' } })
  t.equal(failed.statusCode, 503, 'the plugin reports a store failure as 503')
  t.match(failed.body, /role="alert">Something went wrong.</)
  t.notMatch(failed.body, /the store is down/, 'internal errors are not shown')
})
