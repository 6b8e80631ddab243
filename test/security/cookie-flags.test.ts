// Row 14, cookie flags by default: the session cookie is HttpOnly (no script reads it), Secure (never sent over plain
// HTTP), SameSite=Lax (not sent on cross-site POSTs) with Path=/ and no Domain (not shared with subdomains), and a
// `__Host-` name, which browsers accept only with exactly those, works from login to logout. Requests arrive over
// HTTPS through a proxy here: trustProxy plus X-Forwarded-Proto, the way inject can be HTTPS.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { hashOf } from '../helper'
import { buildApp, setCookieHeaders, whoIs } from './kit'

const HTTPS = { 'x-forwarded-proto': 'https' }

/** A Set-Cookie header as its name, value and attributes (lower-cased names, `true` for flags). */
function parseSetCookie (header: string) {
  const [pair = '', ...parts] = header.split(';').map(part => part.trim())
  const eq = pair.indexOf('=')
  const attributes: Record<string, string | true> = {}
  for (const part of parts) {
    const at = part.indexOf('=')
    if (at === -1) attributes[part.toLowerCase()] = true
    else attributes[part.slice(0, at).toLowerCase()] = part.slice(at + 1)
  }
  return { name: pair.slice(0, eq), value: pair.slice(eq + 1), attributes }
}

function onlyCookie (t: tap.Test, response: LightMyRequestResponse) {
  const headers = setCookieHeaders(response)
  t.equal(headers.length, 1, 'one Set-Cookie')
  return parseSetCookie(headers[0] ?? '')
}

async function setup (t: tap.Test, session: Record<string, unknown> = {}, trustProxy = true) {
  // `cookie: {}` leaves every cookie option to the plugin's defaults (the other tests turn Secure off).
  const { app, users } = await buildApp(t, {
    session: { cookie: {}, ...session },
    fastify: { trustProxy },
    routes (app) {
      app.post('/logout-and-remember', async (request, reply) => {
        await request.logout()
        reply.setCookie('theme', 'dark', { path: '/' })
        return {}
      })
    }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  const login = (headers: Record<string, string> = HTTPS) =>
    app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'alice-pw' }, headers })
  return { app, login }
}

t.test('the login cookie is HttpOnly, Secure, SameSite=Lax, Path=/ and has no Domain', async t => {
  const { app, login } = await setup(t)
  const response = await login()
  t.equal(response.statusCode, 200)
  const cookie = onlyCookie(t, response)
  t.equal(cookie.name, 'sessionId')
  t.equal(cookie.attributes.httponly, true, 'HttpOnly')
  t.equal(cookie.attributes.secure, true, 'Secure')
  t.equal(cookie.attributes.samesite, 'Lax', 'SameSite=Lax')
  t.equal(cookie.attributes.path, '/', 'Path=/')
  t.equal(cookie.attributes.domain, undefined, 'no Domain')
  t.same(await whoIs(app, `${cookie.name}=${cookie.value}`), { status: 200, username: 'alice' })
})

t.test('over plain HTTP the Secure cookie is never sent', async t => {
  const { login } = await setup(t)
  const response = await login({})
  t.equal(response.statusCode, 200)
  t.same(setCookieHeaders(response), [], 'no Set-Cookie over HTTP')
})

t.test('X-Forwarded-Proto from a client is not believed without trustProxy', async t => {
  const { login } = await setup(t, {}, false)
  t.same(setCookieHeaders(await login()), [])
})

t.test('an app that sets one cookie option keeps the other defaults', async t => {
  const { login } = await setup(t, { cookie: { sameSite: 'strict', maxAge: 3_600_000 } })
  const cookie = onlyCookie(t, await login())
  t.equal(cookie.attributes.samesite, 'Strict')
  t.equal(cookie.attributes.httponly, true)
  t.equal(cookie.attributes.secure, true)
  t.equal(cookie.attributes.path, '/')
  t.equal(cookie.attributes.domain, undefined)
})

t.test('logout\'s expiring cookie carries the same flags, so browsers accept it', async t => {
  const { app, login } = await setup(t)
  const issued = onlyCookie(t, await login())
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { ...HTTPS, cookie: `${issued.name}=${issued.value}` } })
  t.equal(logout.statusCode, 200)
  const cleared = onlyCookie(t, logout)
  t.equal(cleared.name, 'sessionId')
  t.equal(cleared.value, '')
  t.equal(cleared.attributes['max-age'], '0')
  t.equal(cleared.attributes.path, '/')
  t.equal(cleared.attributes.secure, true, 'Secure: a __Host- cookie cannot be cleared without it')
  t.equal(cleared.attributes.domain, undefined)
})

t.test('a __Host- cookie name works from login to logout', async t => {
  const { app, login } = await setup(t, { cookieName: '__Host-sid' })
  const issued = onlyCookie(t, await login())
  t.equal(issued.name, '__Host-sid')
  // What browsers require of a __Host- cookie (RFC 6265bis, section 4.1.3.2), or they drop it.
  t.equal(issued.attributes.secure, true)
  t.equal(issued.attributes.path, '/')
  t.equal(issued.attributes.domain, undefined)
  const cookie = `${issued.name}=${issued.value}`
  t.equal((await app.inject({ url: '/me', headers: { ...HTTPS, cookie } })).statusCode, 200, 'it authenticates')

  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { ...HTTPS, cookie } })
  t.equal(logout.statusCode, 200)
  const cleared = onlyCookie(t, logout)
  t.equal(cleared.name, '__Host-sid')
  t.equal(cleared.attributes['max-age'], '0')
  t.equal(cleared.attributes.secure, true, 'the expiring __Host- cookie is Secure, or the browser keeps the old one')
  t.equal(cleared.attributes.path, '/')
  t.equal(cleared.attributes.domain, undefined)
  t.equal((await app.inject({ url: '/me', headers: { ...HTTPS, cookie } })).statusCode, 401)
})

t.test('the expiring cookie keeps the flags when the route sets other cookies too', async t => {
  const { app, login } = await setup(t)
  const issued = onlyCookie(t, await login())
  const logout = await app.inject({ method: 'POST', url: '/logout-and-remember', headers: { ...HTTPS, cookie: `${issued.name}=${issued.value}` } })
  const cookies = setCookieHeaders(logout).map(parseSetCookie)
  t.same(cookies.map(cookie => cookie.name).sort(), ['sessionId', 'theme'], 'one expiring session cookie and the app\'s own')
  const cleared = cookies.find(cookie => cookie.name === 'sessionId')
  t.equal(cleared?.attributes['max-age'], '0')
  t.equal(cleared?.attributes.secure, true)
  t.equal(cookies.find(cookie => cookie.name === 'theme')?.value, 'dark')
})

t.test('secure: "auto" and partitioned cookies are expired with their flags', async t => {
  const { app, login } = await setup(t, { cookie: { secure: 'auto', sameSite: 'none', partitioned: true } })
  for (const [scheme, headers, secure] of [['https', HTTPS, true], ['http', {}, undefined]] as const) {
    const issued = onlyCookie(t, await login(headers))
    t.equal(issued.attributes.secure, secure, `${scheme}: issued with Secure ${secure === true}`)
    t.equal(issued.attributes.partitioned, true)
    const logout = await app.inject({ method: 'POST', url: '/logout', headers: { ...headers, cookie: `${issued.name}=${issued.value}` } })
    const cleared = onlyCookie(t, logout)
    t.equal(cleared.attributes['max-age'], '0')
    t.equal(cleared.attributes.secure, secure, `${scheme}: expired with Secure ${secure === true}`)
    t.equal(cleared.attributes.partitioned, true, `${scheme}: expired as Partitioned`)
  }
})

t.test('a cookie path left undefined is expired at Path=/, where @fastify/session issued it', async t => {
  const { app, login } = await setup(t, { cookie: { path: undefined } })
  const issued = onlyCookie(t, await login())
  t.equal(issued.attributes.path, '/')
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { ...HTTPS, cookie: `${issued.name}=${issued.value}` } })
  const cleared = onlyCookie(t, logout)
  t.equal(cleared.attributes['max-age'], '0')
  t.equal(cleared.attributes.path, '/')
  t.equal(cleared.attributes.secure, true)
})
