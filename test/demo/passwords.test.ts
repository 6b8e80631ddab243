import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { DEMO_CREDENTIALS } from '../../examples/demo/app.js'
import { cookieFrom } from '../helper'
import { demo, post, signIn, visit, type Visit } from './helper'

// The demo's password pages through app.inject: change password, forgot password, the outbox, the reset link.

const SIGNED_IN = `Signed in as ${DEMO_CREDENTIALS.username}`
const NEW = 'a fresh, long passphrase'

/** GET `url` with the cookie: the page and its CSRF token (when it has a form). */
async function open (app: FastifyInstance, url: string, cookie: string | undefined): Promise<Visit & { status: number }> {
  const response = await app.inject({ url, headers: cookie === undefined ? {} : { cookie } })
  const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1] ?? ''
  return { cookie: cookieFrom(response) ?? cookie, token, body: response.body, status: response.statusCode }
}

async function signedInCookie (app: FastifyInstance, password = DEMO_CREDENTIALS.password): Promise<string> {
  const response = await signIn(app, DEMO_CREDENTIALS.username, password)
  if (response.statusCode !== 303) throw new Error(`sign-in failed: ${response.statusCode}`)
  return cookieFrom(response) as string
}

/** The reset link of the newest mail in the outbox, as the browser with `cookie` sees it. */
async function newestLink (app: FastifyInstance, cookie: string | undefined): Promise<string | undefined> {
  const outbox = await app.inject({ url: '/outbox', headers: cookie === undefined ? {} : { cookie } })
  return /class="reset-link" href="([^"]+)"/.exec(outbox.body)?.[1]?.replace(/&amp;/g, '&')
}

t.test('a signed-in user changes their password: the page keeps them in, every other session is signed out', async t => {
  const app = await demo(t)
  const laptop = await signedInCookie(app)
  const phone = await signedInCookie(app)
  t.match((await visit(app, laptop)).body, /href="\/password"/, 'the signed-in page links to the form')

  const form = await open(app, '/password', laptop)
  t.equal(form.status, 200)
  t.match(form.body, /id="change-password"/)
  const wrong = await post(app, '/password', laptop, { _csrf: form.token, current: 'not it', next: NEW })
  t.equal(wrong.statusCode, 401)
  t.match(wrong.body, /role="alert">Your current password is not that.</)
  const again = /name="_csrf" value="([^"]+)"/.exec(wrong.body)?.[1] as string
  const weak = await post(app, '/password', laptop, { _csrf: again, current: DEMO_CREDENTIALS.password, next: 'short' })
  t.equal(weak.statusCode, 400)
  t.match(weak.body, /role="alert">Use at least 10 characters.</, "the demo's password policy")
  const third = /name="_csrf" value="([^"]+)"/.exec(weak.body)?.[1] as string
  const mine = await post(app, '/password', laptop, { _csrf: third, current: DEMO_CREDENTIALS.password, next: 'demo-password-1' })
  t.match(mine.body, /Do not use your email address/)
  t.match((await visit(app, phone)).body, new RegExp(SIGNED_IN), 'refused changes change nothing')

  const fourth = /name="_csrf" value="([^"]+)"/.exec(mine.body)?.[1] as string
  const changed = await post(app, '/password', laptop, { _csrf: fourth, current: DEMO_CREDENTIALS.password, next: NEW })
  t.equal(changed.statusCode, 303)
  const renewed = cookieFrom(changed) as string
  t.ok(renewed)
  t.not(renewed, laptop, 'a new session id')
  const home = await visit(app, renewed)
  t.match(home.body, new RegExp(SIGNED_IN), 'still signed in')
  t.match(home.body, /id="notice">Your password was changed. Every other session was signed out.</)
  t.notMatch((await visit(app, renewed)).body, /id="notice"/, 'the notice shows once')
  t.notMatch((await visit(app, phone)).body, /Signed in as/, 'the other session is signed out')
  t.equal((await signIn(app, DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password)).statusCode, 401, 'the old password is refused')
  t.equal((await signIn(app, DEMO_CREDENTIALS.username, NEW)).statusCode, 303, 'the new one signs in')
})

t.test('the change-password pages need a signed-in user, a CSRF token, and limit guesses at the current password', async t => {
  const app = await demo(t, { loginLimit: { perAccount: 2, perAddress: 50, timeWindow: '1 minute' } })
  t.equal((await app.inject({ url: '/password' })).statusCode, 303, 'signed out: back to the sign-in page')
  const anonymous = await visit(app)
  const posted = await post(app, '/password', anonymous.cookie, { _csrf: anonymous.token, current: 'x', next: NEW })
  t.equal(posted.statusCode, 303)
  const cookie = await signedInCookie(app)
  t.equal((await post(app, '/password', cookie, { current: DEMO_CREDENTIALS.password, next: NEW })).statusCode, 403, 'no CSRF token')
  const statuses: number[] = []
  for (let i = 0; i < 3; i++) {
    const form = await open(app, '/password', cookie)
    statuses.push((await post(app, '/password', cookie, { _csrf: form.token, current: `guess ${i}`, next: NEW })).statusCode)
  }
  t.same(statuses, [401, 401, 429], 'guesses count against the account\'s sign-in budget (one sign-in spent one)')
})

t.test('forgot password: the same page for every address, a mail in the outbox for the known one, a link that works once', async t => {
  const app = await demo(t)
  const before = await signedInCookie(app)
  const signedOut = await visit(app)
  t.match(signedOut.body, /href="\/forgot"/, 'the sign-in page links to the form')
  t.match((await app.inject({ url: '/outbox' })).body, /id="empty">No mail yet/)

  const answers = new Set<string>()
  const asked = new Map<string, string | undefined>()
  for (const username of ['nobody@example.com', DEMO_CREDENTIALS.username]) {
    const form = await open(app, '/forgot', undefined)
    t.match(form.body, /id="forgot"/)
    const response = await post(app, '/forgot', form.cookie, { _csrf: form.token, username })
    t.equal(response.statusCode, 200, username)
    answers.add(response.body)
    asked.set(username, form.cookie)
  }
  t.equal(answers.size, 1, 'the answer is the same, known address or not')
  await new Promise(resolve => setTimeout(resolve, 20))
  const outboxOf = async (cookie: string | undefined) => (await app.inject({ url: '/outbox', headers: { cookie } })).body
  t.match(await outboxOf(asked.get('nobody@example.com')), /id="empty">No mail yet/, 'no mail for the unknown address')
  const outbox = await outboxOf(asked.get(DEMO_CREDENTIALS.username))
  t.equal(outbox.match(/class="mail"/g)?.length, 1, 'one mail: for the known address only')
  t.match(outbox, /To <code>demo@example.com<\/code>/)
  const link = await newestLink(app, asked.get(DEMO_CREDENTIALS.username)) as string
  t.match(link, /^\/reset\?token=[\w.-]+$/)

  const resetPage = await open(app, link, undefined)
  t.equal(resetPage.status, 200)
  t.match(resetPage.body, /id="reset"/)
  const token = decodeURIComponent(link.split('=')[1] as string)
  const weak = await post(app, '/reset', resetPage.cookie, { _csrf: resetPage.token, token, password: 'short' })
  t.equal(weak.statusCode, 400)
  t.match(weak.body, /Use at least 10 characters/)
  const retry = /name="_csrf" value="([^"]+)"/.exec(weak.body)?.[1] as string
  const done = await post(app, '/reset', resetPage.cookie, { _csrf: retry, token, password: NEW })
  t.equal(done.statusCode, 303, 'the link still worked after a refused password')
  const home = await visit(app, cookieFrom(done) ?? resetPage.cookie)
  t.match(home.body, /id="notice">Your password was reset. Sign in with it.</)
  t.match(home.body, /id="sign-in"/, 'the reset signs nobody in')

  t.notMatch((await visit(app, before)).body, /Signed in as/, 'the session from before the reset is signed out')
  t.equal((await signIn(app, DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password)).statusCode, 401, 'the old password is refused')
  t.equal((await signIn(app, DEMO_CREDENTIALS.username, NEW)).statusCode, 303, 'the new one signs in')

  const used = await open(app, link, undefined)
  t.equal(used.status, 400, 'the used link is dead')
  t.match(used.body, /role="alert">This link is invalid or has expired</)
  const replay = await visit(app)
  const posted = await post(app, '/reset', replay.cookie, { _csrf: replay.token, token, password: 'the attacker chose this' })
  t.equal(posted.statusCode, 400, 'and posting it again is refused too')
  for (const url of ['/reset', '/reset?token=', '/reset?token=forged.1.AAAA', `/reset?token=${token}&token=${token}`]) {
    const response = await app.inject({ url })
    t.equal(response.statusCode, 400, url)
    t.match(response.body, /This link is invalid or has expired/)
  }
})

t.test('reset requests are limited per address and per account, before the lookup', async t => {
  const app = await demo(t, { resetLimit: { perAccount: 2, perAddress: 3, timeWindow: '1 minute' } })
  const statuses: number[] = []
  for (const username of ['a@example.com', 'A@example.com', 'a@example.com', 'b@example.com']) {
    const form = await open(app, '/forgot', undefined)
    const response = await post(app, '/forgot', form.cookie, { _csrf: form.token, username })
    statuses.push(response.statusCode)
    if (response.statusCode === 429) t.ok(response.headers['retry-after'])
  }
  t.same(statuses, [200, 200, 429, 429], 'two per account (whatever the case), three per address')
  const form = await open(app, '/forgot', undefined)
  t.match((await post(app, '/forgot', form.cookie, { _csrf: form.token, username: 'c@example.com' })).body, /Too many reset requests from this address/)
})

t.test('the outbox keeps the newest twenty mails; signed out, a browser sees the mail of its last request only', async t => {
  const app = await demo(t, { resetLimit: { perAccount: 50, perAddress: 50, timeWindow: '1 minute' } })
  const form = await open(app, '/forgot', undefined)
  for (let i = 0; i < 22; i++) {
    await post(app, '/forgot', form.cookie, { _csrf: form.token, username: DEMO_CREDENTIALS.username })
  }
  await new Promise(resolve => setTimeout(resolve, 50))
  const asker = await app.inject({ url: '/outbox', headers: { cookie: form.cookie as string } })
  t.equal(asker.body.match(/class="mail"/g)?.length, 1, 'the browser that asked: the mail of its newest request')
  t.equal(asker.headers['cache-control'], 'no-store')
  const owner = await app.inject({ url: '/outbox', headers: { cookie: await signedInCookie(app) } })
  t.equal(owner.body.match(/class="mail"/g)?.length, 20, 'the address\'s owner, signed in: the newest twenty')
  t.match(owner.body, /the mail to your own address/)
})

t.test('the password forms posted without a body are refused like any other bad input, never a 5xx', async t => {
  const app = await demo(t)
  const cookie = await signedInCookie(app)
  // The CSRF token in its header, and no body at all.
  const form = await open(app, '/password', cookie)
  const change = await app.inject({ method: 'POST', url: '/password', headers: { cookie, 'csrf-token': form.token } })
  t.equal(change.statusCode, 400)
  t.match(change.body, /The new password must not be empty/)
  const forgot = await open(app, '/forgot', undefined)
  const sent = await app.inject({ method: 'POST', url: '/forgot', headers: { cookie: forgot.cookie as string, 'csrf-token': forgot.token } })
  t.equal(sent.statusCode, 200)
  t.match(sent.body, /id="sent"/)
  const reset = await app.inject({ method: 'POST', url: '/reset', headers: { cookie: forgot.cookie as string, 'csrf-token': forgot.token } })
  t.equal(reset.statusCode, 400)
  t.match(reset.body, /This link is invalid or has expired/)
})
