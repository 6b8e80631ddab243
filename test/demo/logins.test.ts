import t from 'tap'
import { DEMO_CREDENTIALS } from '../../examples/demo/app.js'
import { describeDevice } from '../../examples/demo/page.js'
import { cookieFrom } from '../helper'
import { demo, post, visit } from './helper'
import type { FastifyInstance } from 'fastify'

// The demo's "where you are signed in" list (issue 17) through app.inject; test/e2e/demo-browser.test.ts drives it
// in Chromium with two browsers.

const FIREFOX = 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0'
const IPHONE = 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'

/** Signs in from a device of its own; resolves to its cookie. */
async function signInFrom (app: FastifyInstance, userAgent: string, remoteAddress: string): Promise<string> {
  const page = await app.inject({ url: '/', headers: { 'user-agent': userAgent }, remoteAddress })
  const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] as string
  const response = await app.inject({
    method: 'POST',
    url: '/login',
    remoteAddress,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'user-agent': userAgent, cookie: cookieFrom(page) as string },
    payload: new URLSearchParams({ _csrf: token, ...DEMO_CREDENTIALS }).toString()
  })
  if (response.statusCode !== 303) throw new Error(`sign-in failed: ${response.statusCode}`)
  return cookieFrom(response) as string
}

function rows (body: string): Array<{ device: string, address: string, current: boolean, id: string | undefined }> {
  return [...body.matchAll(/<li class="login" data-current="(true|false)">([\s\S]*?)<\/li>/g)].map(([, current, row]) => ({
    device: /class="device">([^<]*)</.exec(row as string)?.[1] as string,
    address: /class="address">([^<]*)</.exec(row as string)?.[1] as string,
    current: current === 'true',
    id: /name="id" value="([^"]+)"/.exec(row as string)?.[1]
  }))
}

t.test('the signed-in page lists the user\'s logins: device, address, last seen, "sign out" on the others', async t => {
  const app = await demo(t)
  const laptop = await signInFrom(app, FIREFOX, '192.0.2.10')
  const phone = await signInFrom(app, IPHONE, '198.51.100.7')
  const page = await visit(app, laptop)
  const listed = rows(page.body)
  t.same(listed.map(({ device, address, current }) => ({ device, address, current })), [
    { device: 'Safari on iOS', address: '198.51.100.7', current: false },
    { device: 'Firefox on Linux', address: '192.0.2.10', current: true }
  ], 'newest first; this browser marked and without a sign-out of its own')
  t.match(page.body, /Last seen \d{4}-\d\d-\d\d \d\d:\d\d UTC/)
  t.match(page.body, /id="end-others"/, 'and a "sign out everywhere else"')
  t.notMatch(page.body, new RegExp(decodeURIComponent(phone.split('=')[1] as string).split('.')[0] as string), 'no session id on the page')

  const ended = await post(app, '/logins/end', laptop, { _csrf: page.token, id: listed[0]?.id as string })
  t.equal(ended.statusCode, 303)
  t.equal(ended.headers.location, '/?ended=1')
  t.match((await visit(app, phone)).body, /id="sign-in"/, 'the phone is signed out')
  t.match((await app.inject({ url: '/?ended=1', headers: { cookie: laptop } })).body, /id="ended" role="status">Signed out 1 other login\./)
  const after = await visit(app, laptop)
  t.equal(rows(after.body).length, 1)
  t.notMatch(after.body, /id="end-others"/, 'nothing else to sign out')
})

t.test('"sign out everywhere else" ends every other login and keeps this one', async t => {
  const app = await demo(t)
  const others = [await signInFrom(app, FIREFOX, '192.0.2.1'), await signInFrom(app, IPHONE, '192.0.2.2'), await signInFrom(app, 'curl/8.0', '192.0.2.3')]
  const mine = await signInFrom(app, FIREFOX, '192.0.2.4')
  const page = await visit(app, mine)
  t.match(page.body, /class="device">curl\/8\.0</, 'an agent it cannot name is shown as it is')
  const response = await post(app, '/logins/end-others', mine, { _csrf: page.token })
  t.equal(response.headers.location, '/?ended=3')
  for (const cookie of others) t.match((await visit(app, cookie)).body, /id="sign-in"/)
  t.match((await app.inject({ url: '/?ended=3', headers: { cookie: mine } })).body, /Signed out 3 other logins\./)
  const after = await visit(app, mine)
  t.same(rows(after.body).map(row => row.current), [true])
  const again = await post(app, '/logins/end-others', mine, { _csrf: after.token })
  t.match((await app.inject({ url: again.headers.location as string, headers: { cookie: mine } })).body, /No login was signed out\./)
})

t.test('the forms need the page\'s CSRF token and a signed-in user; a bad id ends nothing', async t => {
  const app = await demo(t)
  const laptop = await signInFrom(app, FIREFOX, '192.0.2.10')
  const phone = await signInFrom(app, IPHONE, '192.0.2.11')
  const page = await visit(app, laptop)
  const phoneId = rows(page.body)[0]?.id as string
  for (const form of [{ id: phoneId }, { _csrf: `${page.token.slice(0, -2)}xx`, id: phoneId }]) {
    t.equal((await post(app, '/logins/end', laptop, form)).statusCode, 403, 'no valid token: refused')
    t.equal((await post(app, '/logins/end-others', laptop, form)).statusCode, 403)
  }
  for (const id of ['', 'x'.repeat(10_000), 'not-a-login-id-at-all!', phone]) {
    const response = await post(app, '/logins/end', laptop, { _csrf: page.token, id })
    t.equal(response.headers.location, '/?ended=0', 'a bad id ends nothing')
  }
  const noId = await post(app, '/logins/end', laptop, { _csrf: page.token })
  t.equal(noId.headers.location, '/?ended=0')
  t.match((await visit(app, phone)).body, /Signed in as/, 'the phone is still signed in')

  const anonymous = await visit(app)
  const refused = await post(app, '/logins/end-others', anonymous.cookie, { _csrf: anonymous.token })
  t.equal(refused.statusCode, 401, 'signed out: nothing to end')
  t.match(refused.body, /role="alert"/)
  t.notMatch((await app.inject({ url: '/?ended=<b>x</b>', headers: { cookie: laptop } })).body, /id="ended"/, 'a note only for a count')
})

t.test('describeDevice names common browsers and systems, and shows anything else as given', async t => {
  const cases: Array<[string | null, string]> = [
    [null, 'Unknown device'],
    [FIREFOX, 'Firefox on Linux'],
    [IPHONE, 'Safari on iOS'],
    ['Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36 Edg/126.0', 'Edge on Windows'],
    ['Mozilla/5.0 (Macintosh; Intel Mac OS X 14_5) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Safari/537.36', 'Chrome on macOS'],
    ['Mozilla/5.0 (Linux; Android 14) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0 Mobile Safari/537.36', 'Chrome on Android'],
    ['Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/126.0 Safari/537.36', 'Chrome on Linux'],
    ['Mozilla/5.0 (X11; FreeBSD amd64; rv:128.0) Gecko/20100101 Firefox/128.0', 'Mozilla/5.0 (X11; FreeBSD amd64; rv:128.0) Gecko/20100101 Firefox/128.0'],
    ['x'.repeat(300), 'x'.repeat(80)]
  ]
  for (const [agent, expected] of cases) t.equal(describeDevice(agent), expected)
})
