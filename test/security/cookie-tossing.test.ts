// Issue 11, item 9: with both backends and `jwt.cookie`, the token cookie was judged before and instead of the
// session. A page on a sibling subdomain can set a cookie for the parent domain (cookie tossing, SECURITY.md's threat
// model, attacker 2): it cannot touch a `__Host-` session cookie, but it can add a `token` cookie beside it. The
// attacker's own valid token made the victim act as the attacker (their card saved to the attacker's account), and a
// junk one made the victim anonymous everywhere. Now only an Authorization header, which no other site can make a
// browser send, comes before the session; the token cookie is looked at only when no session login is carried.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { JWT_SECRET, bearer } from '../jwt/helper'
import { cookieFrom, hashOf, type TestUsers } from '../helper'
import { buildApp } from './kit'

const SESSION_COOKIE = '__Host-sid'

async function setup (t: tap.Test): Promise<{ app: FastifyInstance, users: TestUsers, cards: Map<number, string[]>, victim: string, attackerToken: string }> {
  const cards = new Map<number, string[]>()
  const { app, users } = await buildApp(t, {
    session: { cookieName: SESSION_COOKIE },
    plugin: { jwt: { secret: JWT_SECRET, cookie: { name: 'token', secure: false } }, authHashSecret: `${JWT_SECRET}-auth-hash` },
    routes: (app) => {
      app.post('/api/login', async (request) => {
        const { username, password } = request.body as { username: string, password: string }
        return { token: await request.login({ user: await request.authenticate(username, password), backend: 'jwt' }) }
      })
      app.post('/card', { preHandler: app.requireUser }, async (request) => {
        const id = (request.user as { id: number }).id
        cards.set(id, [...(cards.get(id) ?? []), (request.body as { card: string }).card])
        return { savedFor: id }
      })
      app.get('/who', async (request) => ({ id: (request.user as { id?: number } | null)?.id ?? null }))
    }
  })
  users.add({ id: 1, username: 'victim', password: await hashOf('victim-pw') })
  users.add({ id: 2, username: 'attacker', password: await hashOf('attacker-pw') })
  const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'victim', password: 'victim-pw' } })
  const victim = cookieFrom(login, SESSION_COOKIE) as string
  const attacker = await app.inject({ method: 'POST', url: '/api/login', payload: { username: 'attacker', password: 'attacker-pw' } })
  return { app, users, cards, victim, attackerToken: attacker.json().token }
}

async function who (app: FastifyInstance, headers: Record<string, string>): Promise<unknown> {
  return (await app.inject({ url: '/who', headers })).json().id
}

t.test('the attacker\'s valid token cookie beside the victim\'s session: the victim stays the victim', async t => {
  const { app, cards, victim, attackerToken } = await setup(t)
  t.equal(await who(app, { cookie: victim }), 1, 'control: the victim\'s session')
  t.equal(await who(app, { cookie: `token=${attackerToken}` }), 2, 'control: the attacker\'s token cookie, alone, is the attacker')
  const tossed = { cookie: `${victim}; token=${attackerToken}` }
  t.equal(await who(app, tossed), 1, 'with both cookies the session decides')
  t.equal(await who(app, { cookie: `token=${attackerToken}; ${victim}` }), 1, 'in either order')
  const saved = await app.inject({ method: 'POST', url: '/card', headers: tossed, payload: { card: '4111 1111 1111 1111' } })
  t.same(saved.json(), { savedFor: 1 })
  t.same([...cards], [[1, ['4111 1111 1111 1111']]], 'the card is saved to the victim\'s account, not the attacker\'s')
})

t.test('a junk token cookie beside the victim\'s session does not make the victim anonymous', async t => {
  const { app, victim, attackerToken } = await setup(t)
  for (const junk of ['junk', 'a.b.c', `${attackerToken}x`, attackerToken.slice(0, -2), '%FF']) {
    t.equal(await who(app, { cookie: `${victim}; token=${junk}` }), 1, `token=${junk.slice(0, 20)}`)
    const card = await app.inject({ method: 'POST', url: '/card', headers: { cookie: `${victim}; token=${junk}` }, payload: { card: 'x' } })
    t.equal(card.statusCode, 200, 'requireUser lets the victim through')
  }
})

t.test('an Authorization header still comes first: the client chose it for this request, and a bad one is anonymous', async t => {
  const { app, victim, attackerToken } = await setup(t)
  t.equal(await who(app, { cookie: victim, ...bearer(attackerToken) }), 2, 'a header no other site can make a browser send')
  t.equal(await who(app, { cookie: victim, ...bearer('junk') }), null, 'a refused header token is not swapped for the session')
  t.equal(await who(app, { cookie: `token=${attackerToken}`, ...bearer('junk') }), null, 'nor for the token cookie')
})

t.test('a session whose login has ended decides that request too; after it, the token cookie counts again', async t => {
  const { app, users, victim, attackerToken } = await setup(t)
  // The victim's password changes elsewhere: the session still names a login, which reads as ended.
  ;(users.byId.get(1) as { password?: unknown }).password = await hashOf('new-victim-pw')
  t.equal(await who(app, { cookie: `${victim}; token=${attackerToken}` }), null,
    'the ended session login makes the request anonymous: it does not fall through to a cookie beside it')
  t.equal(await who(app, { cookie: victim }), null)
  t.equal(await who(app, { cookie: `${victim}; token=${attackerToken}` }), 2,
    'a browser without a session login, with a token cookie, is that token\'s user: a `__Host-` token cookie name is ' +
    'what keeps a sibling from planting one (README, JWT backend)')
})
