// Row 17, events: onLogin, onLogout and onLoginFailed (Django's user_logged_in, user_logged_out and
// user_login_failed signals) are awaited before the response; a listener that throws or rejects is logged, changes
// nothing (the login or logout stands, the failure stays the one 401) and its error never reaches the client;
// onLoginFailed gets the username and the reason, never the password.
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import { cookieFrom, hashOf, loginAs } from '../helper'
import { buildApp, whoIs } from './kit'

const SECRET_DETAIL = 'listener-internal-detail-42'

function logCapture () {
  const lines: string[] = []
  return { lines, logger: { level: 'info', stream: { write: (line: string) => { lines.push(line) } } } }
}

async function setup (t: tap.Test, plugin: Record<string, unknown>, routes?: (app: FastifyInstance) => void) {
  const log = logCapture()
  const { app, users } = await buildApp(t, { plugin, fastify: { logger: log.logger }, routes })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  users.add({ id: 2, username: 'inactive', password: await hashOf('inactive-pw'), isActive: false })
  users.add({ id: 3, username: 'nohash' })
  return { app, users, log }
}

const sleep = (ms: number) => new Promise(resolve => setTimeout(resolve, ms))

t.test('listeners are awaited before the response and get their event', async t => {
  const order: string[] = []
  const events: Record<string, unknown[]> = { onLogin: [], onLogout: [], onLoginFailed: [] }
  const listener = (name: string) => async (event: unknown) => {
    await sleep(20)
    events[name]?.push(event)
    order.push(name)
  }
  const { app } = await setup(t, {
    onLogin: listener('onLogin'), onLogout: listener('onLogout'), onLoginFailed: listener('onLoginFailed')
  }, app => app.addHook('onResponse', async (request) => { order.push(`response ${request.url}`) }))

  const cookie = await loginAs(app, 'alice', 'alice-pw')
  const failed = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'wrong' } })
  t.equal(failed.statusCode, 401)
  const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
  t.equal(logout.statusCode, 200)
  t.same(order, ['onLogin', 'response /login', 'onLoginFailed', 'response /login', 'onLogout', 'response /logout'])

  const [login] = events.onLogin as Array<Record<string, unknown>>
  t.same(Object.getOwnPropertyNames(login ?? {}).sort(), ['backend', 'request', 'user'])
  t.equal((login?.user as { username: string }).username, 'alice')
  t.equal(login?.backend, 'session')
  const [out] = events.onLogout as Array<Record<string, unknown>>
  t.same({ userId: out?.userId, backend: out?.backend }, { userId: 1, backend: 'session' })
})

t.test('onLoginFailed gets the username and the reason, never the password', async t => {
  const seen: Array<Record<string, unknown>> = []
  const { app } = await setup(t, { onLoginFailed: (event: Record<string, unknown>) => { seen.push(event) } })
  const attempts: Array<[unknown, unknown, string]> = [
    ['nobody', 'pw-of-nobody', 'unknown-user'],
    ['alice', 'pw-wrong-for-alice', 'wrong-password'],
    ['inactive', 'inactive-pw', 'inactive'],
    ['nohash', 'pw-for-nohash', 'no-password'],
    ['alice', 'p'.repeat(5000), 'invalid-input'],
    [['alice'], 'pw-with-array-name', 'invalid-input'],
    ['alice', ['pw-in-an-array'], 'invalid-input']
  ]
  for (const [username, password, reason] of attempts) {
    const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
    t.equal(response.statusCode, 401)
    const event = seen.at(-1) as Record<string, unknown>
    t.same(Object.getOwnPropertyNames(event).sort(), ['reason', 'request', 'userId', 'username'], 'the event has no password field')
    t.equal(event.reason, reason, `${reason}: the reason`)
    t.equal(event.username, typeof username === 'string' ? username : null, `${reason}: the username, or null when not a string`)
    const { request: _request, ...rest } = event
    const serialized = JSON.stringify(rest)
    const secret = Array.isArray(password) ? password[0] : password
    t.notOk(serialized.includes(String(secret)), `${reason}: the password is nowhere in the event`)
  }
  t.equal(seen.length, attempts.length, 'one event per failed attempt')
})

for (const kind of ['throws', 'rejects', 'throws a string']) {
  const failing = () => {
    if (kind === 'throws') return () => { throw new Error(SECRET_DETAIL) }
    if (kind === 'rejects') return async () => { throw Object.assign(new Error(SECRET_DETAIL), { statusCode: 429 }) }
    return () => { throw SECRET_DETAIL }
  }

  t.test(`a listener that ${kind} is logged, changes nothing and is not leaked`, async t => {
    const { app, log } = await setup(t, { onLogin: failing(), onLogout: failing(), onLoginFailed: failing() })
    const responses = []

    const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'alice-pw' } })
    responses.push(login)
    t.equal(login.statusCode, 200, 'the login stands')
    const cookie = cookieFrom(login) as string
    t.same(await whoIs(app, cookie), { status: 200, username: 'alice' })

    const failed = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: 'wrong-pw-77' } })
    responses.push(failed)
    t.equal(failed.statusCode, 401, 'the failure stays the one 401')
    t.equal(failed.json().code, 'FST_AUTH_AUTHENTICATION_FAILED')

    const logout = await app.inject({ method: 'POST', url: '/logout', headers: { cookie } })
    responses.push(logout)
    t.equal(logout.statusCode, 200, 'the logout stands')
    t.same(await whoIs(app, cookie), { status: 200, username: null })

    for (const response of responses) {
      t.notOk(response.body.includes(SECRET_DETAIL), 'the listener\'s error is not in the response')
      t.notOk(JSON.stringify(response.headers).includes(SECRET_DETAIL))
    }
    for (const name of ['onLogin', 'onLoginFailed', 'onLogout']) {
      const line = log.lines.find(line => line.includes(`the ${name} listener threw`))
      t.ok(line, `${name}'s error is logged`)
      t.match(line, SECRET_DETAIL, 'with the error')
      t.equal(JSON.parse(line as string).level, 50, 'at error level')
    }
    t.notOk(log.lines.some(line => line.includes('wrong-pw-77') || line.includes('alice-pw')), 'no password is ever logged')
  })
}

t.test('the seed-named functions emit the same events as the decorators', async t => {
  const names: string[] = []
  const { app, users } = await buildApp(t, {
    plugin: { onLogin: () => { names.push('login') }, onLogout: () => { names.push('logout') }, onLoginFailed: () => { names.push('failed') } },
    routes (app) {
      app.post('/seed', async (request) => {
        await auth.authenticate(request, 'alice', 'wrong').catch(() => {})
        await auth.login(request, { userId: 1 })
        await auth.logout(request)
        return {}
      })
    }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  t.equal((await app.inject({ method: 'POST', url: '/seed' })).statusCode, 200)
  t.same(names, ['failed', 'login', 'logout'])
})
