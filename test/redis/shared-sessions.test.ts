import t from 'tap'
import { cookieFrom, hashOf, loginAs } from '../helper'
import { twoInstances } from './app'
import { redisFor, redisSkipReason } from './server'

// Two app instances sharing sessions through one Redis (connect-redis), as behind a load balancer without sticky
// sessions: whichever instance a request lands on, it sees the same login.

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

/** The session id a session cookie carries (the part before the signature). */
function sidOf (cookie: string): string {
  return decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).split('.')[0] as string
}

t.test('a login on A is seen on B, with the session data A wrote', { skip }, async t => {
  const { a, b, users, prefix, inspect } = await twoInstances(t, url)
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })

  const cookie = await loginAs(a, 'bob', 'pw')
  const me = await b.inject({ url: '/me', headers: { cookie } })
  t.equal(me.statusCode, 200)
  t.equal(me.json().user.username, 'bob')

  t.equal((await a.inject({ method: 'PUT', url: '/note', headers: { cookie }, payload: { note: 'from A' } })).statusCode, 200)
  const note = await b.inject({ url: '/note', headers: { cookie } })
  t.same(note.json(), { note: 'from A', user: { id: 1, username: 'bob', password: users.byId.get(1)?.password } })

  // What Redis holds: the session and its login record, both expiring (connect-redis sets a TTL on each).
  const keys = await inspect.keys(`${prefix}*`)
  t.equal(keys.length, 2, 'one session and one login record')
  t.ok(keys.includes(`${prefix}${sidOf(cookie)}`), 'the session is stored under its id')
  t.equal(keys.filter(key => key.startsWith(`${prefix}auth-login:`)).length, 1, 'the login record is stored')
  for (const key of keys) t.ok(await inspect.ttl(key) > 0, `${key} expires`)
})

t.test('a logout on B ends the login on A, and the old cookie is dead on both', { skip }, async t => {
  const { a, b, users, prefix, inspect } = await twoInstances(t, url)
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const cookie = await loginAs(a, 'bob', 'pw')

  const logout = await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(logout.statusCode, 200)
  const cleared = logout.cookies.find(c => c.name === 'sessionId')
  t.ok(cleared !== undefined && cleared.expires !== undefined && cleared.expires.getTime() <= Date.now(),
    'B answers with an expiring session cookie')
  t.same(await inspect.keys(`${prefix}*`), [], 'B deleted both the session and the login record from Redis')

  for (const [name, app] of [['A', a], ['B', b]] as const) {
    const me = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(me.statusCode, 401, `the old cookie is refused on ${name}`)
    const whoami = await app.inject({ url: '/whoami', headers: { cookie } })
    t.same(whoami.json(), { user: null, id: null }, `the old cookie is anonymous on ${name}`)
  }
})

t.test('a logout ends only its own login: the same user logged in elsewhere stays logged in', { skip }, async t => {
  const { a, b, users } = await twoInstances(t, url)
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const laptop = await loginAs(a, 'bob', 'pw')
  const phone = await loginAs(b, 'bob', 'pw')

  t.equal((await b.inject({ method: 'POST', url: '/logout', headers: { cookie: laptop } })).statusCode, 200)
  t.equal((await a.inject({ url: '/me', headers: { cookie: laptop } })).statusCode, 401, 'the laptop is logged out')
  t.equal((await a.inject({ url: '/me', headers: { cookie: phone } })).statusCode, 200, 'the phone is still logged in, on A')
  t.equal((await b.inject({ url: '/me', headers: { cookie: phone } })).statusCode, 200, 'and on B')
})

t.test('a password changed through A ends the logins made on B', { skip }, async t => {
  const { a, b, users } = await twoInstances(t, url)
  const bob = users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const cookie = await loginAs(b, 'bob', 'pw')
  t.equal((await a.inject({ url: '/me', headers: { cookie } })).statusCode, 200)

  // The user store is shared too (the test's TestUsers plays the database both instances use).
  bob.password = await a.hashPassword('new password')
  t.equal((await a.inject({ url: '/me', headers: { cookie } })).statusCode, 401, 'refused on A')
  t.equal((await b.inject({ url: '/me', headers: { cookie } })).statusCode, 401, 'refused on B')
  t.not(cookieFrom(await b.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'new password' } })),
    undefined, 'the new password logs in')
})

t.test('a login on B from a session cookie A issued gets a new session id (no fixation across instances)', { skip }, async t => {
  const { a, b, users, prefix, inspect } = await twoInstances(t, url)
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const visit = await a.inject({ method: 'PUT', url: '/note', payload: { note: 'before login' } })
  const anonymous = cookieFrom(visit) as string
  t.ok(anonymous, 'A gave the visitor a session')

  const login = await b.inject({ method: 'POST', url: '/login', headers: { cookie: anonymous }, payload: { username: 'bob', password: 'pw' } })
  const cookie = cookieFrom(login) as string
  t.not(sidOf(cookie), sidOf(anonymous), 'the login has a new session id')
  t.equal(await inspect.exists(`${prefix}${sidOf(anonymous)}`), 0, 'the pre-login session is gone from Redis')
  t.same((await a.inject({ url: '/whoami', headers: { cookie: anonymous } })).json(), { user: null, id: null },
    'the pre-login cookie is anonymous on A')
  t.equal((await a.inject({ url: '/note', headers: { cookie } })).json().note, 'before login', 'the visitor keeps their data')
})
