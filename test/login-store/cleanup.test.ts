import t from 'tap'
import { MemoryStore } from '@fastify/session'
import { build, cookieFrom, userIndexKey, type TestUsers } from '../helper'
import { addLoginRoutes, fakeClock, listWith } from '../login/helper'

// Nothing left behind: every way a login ends removes it from the store and from the user's index.

async function app (t: Parameters<typeof build>[0]) {
  const clock = fakeClock()
  const store = new MemoryStore()
  const { app: server, users } = await build(t, {
    plugin: { now: clock.now, logins: { maxAge: 60_000, browserSessionMaxAge: 60_000 } },
    session: { store },
    extend: addLoginRoutes
  })
  ;(users as TestUsers).add({ id: 1, username: 'bob' })
  const entries = (store as unknown as { store: Map<string, unknown> }).store
  const login = async (): Promise<string> => {
    const response = await server.inject({ method: 'POST', url: '/login-id', payload: { userId: 1 } })
    return cookieFrom(response) as string
  }
  return { server, clock, entries, login }
}

// Every cycle takes the same path (the clock stands still), so a leak shows as a key left after the first cycle: 500
// cycles prove what 10 000 did, at a twentieth of the time.
t.test('500 login/logout cycles leave the store empty', async t => {
  const { server, entries, login } = await app(t)
  for (let i = 0; i < 500; i++) {
    const cookie = await login()
    await server.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  }
  t.same([...entries.keys()], [])
})

t.test('endLogin, endOtherLogins and endLogins leave nothing behind either', async t => {
  const { server, entries, login } = await app(t)
  for (let i = 0; i < 300; i++) {
    const [one, two] = [await login(), await login(), await login()]
    const other = (await listWith(server, { cookie: one })).find(entry => !entry.current)?.id
    await server.inject({ method: 'POST', url: '/logins/end', headers: { cookie: one }, payload: { id: other } })
    await server.inject({ method: 'POST', url: '/logins/end-others', headers: { cookie: two } })
    await server.endLogins(1)
  }
  t.same([...entries.keys()].filter(key => key.startsWith('auth-')), [], 'no record and no index')
})

t.test('a user\'s index holds only live logins: those that expired without a logout are pruned, records too', async t => {
  const { server, entries, clock, login } = await app(t)
  const index = (): Record<string, unknown> => entries.get(userIndexKey(1)) as Record<string, unknown>
  for (let round = 0; round < 20; round++) {
    for (let i = 0; i < 10; i++) await login()
    clock.advance(60_000)
  }
  await login()
  t.equal(Object.keys(index()).length, 1, 'one entry: the live login')
  t.equal([...entries.keys()].filter(key => key.startsWith('auth-login:')).length, 1, 'one record')
  t.equal((await server.listLogins(1)).length, 1)
})

t.test('a listing drops the entries of logins that expired, and their records', async t => {
  const { server, entries, clock, login } = await app(t)
  await login()
  await login()
  clock.advance(60_000)
  t.same(await server.listLogins(1), [])
  t.same([...entries.keys()].filter(key => key.startsWith('auth-')), [])
})
