import t from 'tap'
import { Writable } from 'node:stream'
import { build, hashOf } from '../helper'

const PASSWORD = 'correct horse battery staple'
const GUESS = 'Tr0ub4dor&3-guess'

/** A logger that keeps every line it writes, so a test can read what an app's logs would hold. */
function capturedLogger (): { lines: string[], logger: { level: string, stream: Writable } } {
  const lines: string[] = []
  const stream = new Writable({
    write (chunk, _encoding, callback) {
      lines.push(String(chunk))
      callback()
    }
  })
  return { lines, logger: { level: 'info', stream } }
}

t.test('onLoginFailed and the other events can be logged whole without writing the password to the logs', async t => {
  const { lines, logger } = capturedLogger()
  const events: Array<Record<string, unknown>> = []
  const logWhole = (event: Record<string, unknown> & { request: { log: { info: (o: object, m: string) => void } } }) => {
    events.push(event)
    // What an app naturally writes: the whole event, as the docs describe its fields.
    event.request.log.info(event, 'auth event')
  }
  const { app, users } = await build(t, {
    fastify: { logger },
    plugin: { onLoginFailed: logWhole, onLogin: logWhole, onLogout: logWhole }
  })
  users.add({ id: 1, username: 'alice', password: await hashOf(PASSWORD) })

  const failed = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: GUESS } })
  t.equal(failed.statusCode, 401)
  const ok = await app.inject({ method: 'POST', url: '/login', payload: { username: 'alice', password: PASSWORD } })
  t.equal(ok.statusCode, 200)
  const out = await app.inject({ method: 'POST', url: '/logout', headers: { cookie: `sessionId=${ok.cookies[0]?.value}` } })
  t.equal(out.statusCode, 200)

  t.equal(events.length, 3, 'onLoginFailed, onLogin and onLogout each ran once')
  const logged = lines.filter(line => line.includes('"msg":"auth event"'))
  t.equal(logged.length, 3)
  for (const line of logged) {
    t.notOk(line.includes(PASSWORD), 'the real password is not in the log line')
    t.notOk(line.includes(GUESS), 'the guessed password is not in the log line')
  }
  t.match(JSON.parse(logged[0] as string), { username: 'alice', reason: 'wrong-password' }, 'the failure line says who and why')
  for (const event of events) {
    t.notOk(JSON.stringify(event).includes(PASSWORD), 'the event serializes without the password')
    t.notOk(JSON.stringify(event).includes(GUESS))
    t.equal((event.request as { url: string }).url.startsWith('/log'), true, 'the request is still on the event for the listener to use')
  }
  t.same(Object.keys(events[0] as object).sort(), ['reason', 'username'], 'onLoginFailed shows only username and reason')
})
