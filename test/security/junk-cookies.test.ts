// Row 11, junk cookies: tampered, truncated, oversized, badly percent-encoded, duplicated, empty and otherwise
// malformed session cookies make the request anonymous: never a 500, never someone's login, nothing written to the
// store, and a login over them still works.
import t from 'tap'
import { sign } from '@fastify/cookie'
import { cookieFrom, hashOf, loginAs } from '../helper'
import { JsonStore, buildApp, cookieForSession, whoIs } from './kit'

async function setup (t: tap.Test) {
  const store = new JsonStore()
  const { app, users } = await buildApp(t, { session: { store } })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('bob-pw') })
  const alice = await loginAs(app, 'alice', 'alice-pw')
  return { app, store, alice }
}

/** Cookie headers built from a real logged-in cookie (`sessionId=<id>.<signature>`, percent-encoded). */
function junk (alice: string, store: JsonStore): Record<string, string> {
  const value = alice.slice('sessionId='.length)
  const decoded = decodeURIComponent(value)
  const dot = decoded.lastIndexOf('.')
  const id = decoded.slice(0, dot)
  const signature = decoded.slice(dot + 1)
  const flip = (s: string, at: number) => s.slice(0, at) + (s[at] === 'A' ? 'B' : 'A') + s.slice(at + 1)
  const record = store.records()[0] as string
  return {
    'signature with one character changed': `sessionId=${encodeURIComponent(`${id}.${flip(signature, 5)}`)}`,
    'id with one character changed': `sessionId=${encodeURIComponent(`${flip(id, 3)}.${signature}`)}`,
    'signature of another secret': `sessionId=${encodeURIComponent(sign(id, 'another-secret-that-is-32-chars-long!'))}`,
    'last character cut': alice.slice(0, -1),
    'cut in half': alice.slice(0, Math.floor(alice.length / 2)),
    'the id without its signature': `sessionId=${id}`,
    'the id and a dot': `sessionId=${id}.`,
    'only the signature': `sessionId=.${signature}`,
    'a lone dot': 'sessionId=.',
    '8 KB of A': `sessionId=${'A'.repeat(8192)}`,
    '8 KB id with a signature': `sessionId=${'A'.repeat(8192)}.${signature}`,
    '%FF': 'sessionId=%FF',
    'a lone %': 'sessionId=%',
    'a truncated escape': 'sessionId=%E0%A4%A',
    'an encoded NUL': `sessionId=${id}%00.${signature}`,
    'quoted, with a changed signature': `sessionId="${id}.${flip(signature, 5)}"`,
    'the id twice': `sessionId=${encodeURIComponent(`${id}.${id}.${signature}`)}`,
    'empty value': 'sessionId=',
    'name only': 'sessionId',
    'empty quotes': 'sessionId=""',
    'only separators': ';;; ;',
    'only an equals sign': '=',
    'junk first, then the real cookie': `sessionId=junk; ${alice}`,
    'empty first, then the real cookie': `sessionId=; ${alice}`,
    'a thousand other cookies first': `${Array.from({ length: 1000 }, (_, i) => `c${i}=${i}`).join('; ')}; sessionId=junk`,
    'a name differing in case': alice.replace('sessionId', 'SESSIONID'),
    'latin-1 bytes': 'sessionId=\u00ff\u00fe',
    'a validly signed cookie naming a login record': cookieForSession(record),
    'a validly signed cookie naming no session': cookieForSession('no-such-session')
  }
}

t.test('junk session cookies are anonymous and never a 500', async t => {
  const { app, store, alice } = await setup(t)
  const cases = junk(alice, store)
  const before = [...store.data.keys()].sort()
  for (const [name, cookie] of Object.entries(cases)) {
    const who = await whoIs(app, cookie)
    t.equal(who.status, 200, `${name}: 200`)
    t.equal(who.username, null, `${name}: anonymous`)
    const me = await app.inject({ url: '/me', headers: { cookie } })
    t.equal(me.statusCode, 401, `${name}: requireUser answers 401`)
  }
  t.same([...store.data.keys()].sort(), before, 'nothing was written to the store, and alice\'s session is intact')
  t.same(await whoIs(app, alice), { status: 200, username: 'alice' }, 'the real cookie still works')
})

t.test('a duplicated cookie name never gives another user\'s login', async t => {
  const { app, alice } = await setup(t)
  const bob = await loginAs(app, 'bob', 'bob-pw')
  t.same(await whoIs(app, `${alice}; ${bob}`), { status: 200, username: 'alice' }, 'the first of two real cookies counts')
  t.same(await whoIs(app, `${bob}; ${alice}`), { status: 200, username: 'bob' })
  t.same(await whoIs(app, `${alice}; sessionId=junk`), { status: 200, username: 'alice' })
})

t.test('logging in over a junk cookie works and hands out a fresh one', async t => {
  const { app, store, alice } = await setup(t)
  let logins = 0
  for (const [name, cookie] of Object.entries(junk(alice, store))) {
    // Logging in over a cookie for alice's login record would end alice's login (login destroys the session it
    // replaces), but only the holder of the cookie secret can sign such a cookie: it is left out here.
    if (name.includes('real cookie') || name.includes('login record')) continue
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username: 'bob', password: 'bob-pw' }, headers: { cookie } })
    t.equal(response.statusCode, 200, `${name}: login 200`)
    logins++
    const fresh = cookieFrom(response)
    t.not(fresh, undefined)
    t.same(await whoIs(app, fresh), { status: 200, username: 'bob' }, `${name}: the fresh cookie is bob`)
  }
  t.equal(store.records().length, 1 + logins, 'alice\'s record and one per login')
  t.same(await whoIs(app, alice), { status: 200, username: 'alice' }, 'none of it touched alice\'s session')
})
