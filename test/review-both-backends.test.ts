import t from 'tap'
import type { FastifyInstance } from 'fastify'
import fastifySession from '@fastify/session'
import { getUserFromSession } from '../lib/index'
import { TestUsers, build, hashOf, loginAs, type TestUser } from './helper'
import { JWT_SECRET, bearer } from './jwt-helper'

// Review: an app with both backends, where a request carries a session cookie and a token at once. The token decides
// `request.user`; these tests are about what the rest of the API says about the session riding along.

interface Both {
  app: FastifyInstance
  ann: TestUser
  records: () => string[]
  drop: (key: string) => void
}

async function buildBoth (t: { teardown: (fn: () => unknown) => void }): Promise<Both> {
  const users = new TestUsers()
  const ann = users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  users.add({ id: 2, username: 'bob', password: await hashOf('pw2') })
  const entries = new Map<string, unknown>()
  const { app } = await build(t, {
    users,
    session: { store: new fastifySession.MemoryStore(entries as never) },
    plugin: { jwt: { secret: JWT_SECRET } },
    extend: app => {
      app.post('/api/token', async request => ({ token: await request.login({ userId: (request.body as { userId: number }).userId, backend: 'jwt' }) }))
      app.get('/ids', async request => ({
        user: (request.user as TestUser | null)?.id ?? null,
        session: request.getUserId('session'),
        jwt: request.getUserId('jwt'),
        byDefault: request.getUserId()
      }))
      app.get('/ids/checked', async request => {
        const user = await getUserFromSession(request) as TestUser | null
        return { sessionUser: user?.id ?? null, session: request.getUserId('session') }
      })
    }
  })
  return {
    app,
    ann,
    records: () => [...entries.keys()].filter(key => key.startsWith('auth-login:')),
    drop: key => { entries.delete(key) }
  }
}

t.test('beside a token, getUserId() never names a session login that has ended', async t => {
  const { app, ann, records, drop } = await buildBoth(t)
  const bobToken = (await app.inject({ method: 'POST', url: '/api/token', payload: { userId: 2 } })).json().token as string
  const endings: Record<string, () => Promise<void>> = {
    'the password changed': async () => { ann.password = await hashOf('changed') },
    'the user was deactivated': async () => { ann.isActive = false },
    // What a request in flight during logout leaves behind: the session revived, its login record gone.
    'the login record is gone': async () => { for (const key of records()) drop(key) }
  }
  for (const [ending, end] of Object.entries(endings)) {
    ann.password = await hashOf('pw')
    ann.isActive = true
    const cookie = await loginAs(app, 'ann', 'pw')
    await end()
    for (const [token, name] of [['junk', 'a refused token'], [bobToken, 'another user\'s token']] as const) {
      const ids = (await app.inject({ url: '/ids', headers: { cookie, ...bearer(token) } })).json()
      t.equal(ids.session, null, `${ending}, with ${name}: getUserId('session')`)
      // getUserId() follows the login that authenticated the request: the token's when it is valid.
      t.equal(ids.byDefault, token === bobToken ? 2 : null, `${ending}, with ${name}: getUserId() without a backend`)
    }
    t.same((await app.inject({ url: '/ids', headers: { cookie } })).json(),
      { user: null, session: null, jwt: null, byDefault: null }, `${ending}: the session alone is anonymous too`)
  }
})

t.test('beside a token, a live session login counts once the request has checked it', async t => {
  const { app } = await buildBoth(t)
  const cookie = await loginAs(app, 'ann', 'pw')
  const bobToken = (await app.inject({ method: 'POST', url: '/api/token', payload: { userId: 2 } })).json().token as string
  t.same((await app.inject({ url: '/ids', headers: { cookie, ...bearer(bobToken) } })).json(),
    { user: 2, session: null, jwt: 2, byDefault: 2 }, 'the token decided this request; the session was not read')
  t.same((await app.inject({ url: '/ids/checked', headers: { cookie, ...bearer(bobToken) } })).json(),
    { sessionUser: 1, session: 1 }, 'getUserFromSession() checks it, and then getUserId(\'session\') names it')
  t.same((await app.inject({ url: '/ids', headers: { cookie } })).json(),
    { user: 1, session: 1, jwt: null, byDefault: 1 }, 'alone, the session decides and is named')
})
