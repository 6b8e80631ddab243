// The default Secure session cookie is not sent over plain http: a login there answers 200 and the browser stays
// logged out. The plugin says so in the log, once, instead of leaving a newcomer to wonder.
import t from 'tap'
import { SECRET, TestUsers, build, cookieFrom, hashOf } from '../helper'

async function setup (t: tap.Test, cookie: Record<string, unknown>, fastify: Record<string, unknown> = {}) {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const lines: Array<{ level: number, msg: string }> = []
  const { app } = await build(t, {
    users,
    plugin: { session: { secret: SECRET, cookie } },
    fastify: { ...fastify, logger: { level: 'warn', stream: { write: (line: string) => { lines.push(JSON.parse(line)) } } } }
  })
  const login = (headers: Record<string, string> = {}) =>
    app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' }, headers })
  const warnings = () => lines.filter(line => line.level === 40 && /plain http with a Secure session cookie/.test(line.msg))
  return { login, warnings }
}

t.test('a login over http with the default Secure cookie sets no cookie, and the log says why, once', async t => {
  const { login, warnings } = await setup(t, {})
  for (let i = 0; i < 3; i++) {
    const response = await login()
    t.equal(response.statusCode, 200)
    t.equal(cookieFrom(response), undefined, 'no cookie over plain http')
  }
  t.equal(warnings().length, 1, 'one warning, not one per login')
  t.match(warnings()[0]!.msg, /trustProxy/)
})

t.test('no warning when the cookie can be sent: secure false or auto, or https behind a trusted proxy', async t => {
  for (const [name, cookie, fastify, headers] of [
    ['secure: false', { secure: false }, {}, {}],
    ['secure: auto', { secure: 'auto' }, {}, {}],
    ['https through a trusted proxy', {}, { trustProxy: true }, { 'x-forwarded-proto': 'https' }]
  ] as const) {
    const { login, warnings } = await setup(t, cookie, fastify)
    const response = await login(headers)
    t.ok(cookieFrom(response), `${name}: the cookie is set`)
    t.equal(warnings().length, 0, `${name}: no warning`)
  }
})
