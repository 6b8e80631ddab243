import t from 'tap'
import { Writable } from 'node:stream'
import rateLimit from '@fastify/rate-limit'
import type { FastifyRequest } from 'fastify'
import { TestUsers, build, hashOf, type TestUser } from '../helper'
import { assertReadmeShowsRecipe } from '../security/kit'
import { buildPasswords, type Mail } from './helper'

// app.requestPasswordReset: the "forgot password" route answers the same for every address, and mails off the
// response path.

const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

async function settle (outbox: Mail[], count: number): Promise<void> {
  for (let i = 0; i < 100 && outbox.length < count; i++) await tick()
}

t.test('known, unknown, inactive and junk addresses get the same answer, and only the known one a mail', async t => {
  const users = new TestUsers()
  const { app, outbox } = await buildPasswords(t, {}, users)
  users.add({ id: 3, username: 'gone-quiet', password: await hashOf('x'), isActive: false })
  const answers = new Set<string>()
  const lookups: number[] = []
  for (const username of ['ann', 'nobody', 'gone-quiet', '', 42, ['ann'], { $ne: null }, 'x'.repeat(600), 'ann\uD800']) {
    const before = users.calls.findByUsername
    const response = await app.inject({ method: 'POST', url: '/forgot', payload: { username } })
    const { date: _date, ...headers } = response.headers
    answers.add(JSON.stringify([response.statusCode, headers, response.body]))
    await settle(outbox, 1)
    for (let i = 0; i < 5; i++) await tick()
    lookups.push(users.calls.findByUsername - before)
  }
  t.equal(answers.size, 1, 'one status, one set of headers, one body for all')
  t.same(lookups, [1, 1, 1, 0, 0, 0, 0, 0, 0], 'every username the store could hold is looked up; junk is not')
  t.equal(outbox.length, 1, 'one mail')
  t.same({ to: outbox[0]?.to, userId: outbox[0]?.userId }, { to: 'ann', userId: 1 })
  t.same((await app.inject({ method: 'POST', url: '/reset', payload: { token: outbox[0]?.token, password: 'from the mail' } })).json(), { id: 1 },
    'the mailed token resets the password')
})

t.test('the lookup and the mail run after the response: a slow user store or mailer does not slow the answer', async t => {
  const users = new TestUsers()
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  const find = users.findByUsername
  users.findByUsername = async (username) => {
    await held
    return find(username)
  }
  const { app, outbox } = await buildPasswords(t, {}, users)
  const response = await app.inject({ method: 'POST', url: '/forgot', payload: { username: 'ann' } })
  t.equal(response.statusCode, 202, 'answered while the lookup is still held')
  t.equal(outbox.length, 0)
  release()
  await settle(outbox, 1)
  t.equal(outbox.length, 1, 'and the mail goes once the store answers')
})

t.test('a failing store or mailer is logged, never answered, and close waits for requests in flight', async t => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _encoding, done) { lines.push(chunk.toString()); done() } })
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann', password: await hashOf('x') })
  let sent = 0
  let release!: () => void
  const held = new Promise<void>(resolve => { release = resolve })
  const { app } = await build(t, {
    users,
    fastify: { logger: { level: 'error', stream } },
    extend: app => {
      app.post('/forgot', async (request, reply) => {
        const { username, fail } = request.body as { username: string, fail?: boolean }
        app.requestPasswordReset(username, {
          maxAge: 60_000,
          send: async () => {
            if (fail === true) throw new Error('smtp.example.com refused')
            await held
            sent++
          }
        })
        return reply.code(202).send({ ok: true })
      })
    }
  })
  const failing = await app.inject({ method: 'POST', url: '/forgot', payload: { username: 'ann', fail: true } })
  t.equal(failing.statusCode, 202)
  t.notMatch(failing.body, /smtp/)
  for (let i = 0; i < 10; i++) await tick()
  users.findByUsername = async () => { throw new Error('db down') }
  t.equal((await app.inject({ method: 'POST', url: '/forgot', payload: { username: 'ann' } })).statusCode, 202)
  for (let i = 0; i < 10; i++) await tick()
  const logged = lines.join('')
  t.match(logged, /a password reset request failed/)
  t.match(logged, /smtp.example.com refused/, "the mailer's error is in the log")
  t.match(logged, /FST_AUTH_USER_STORE_ERROR/, "and the store's")

  users.findByUsername = async () => users.byId.get(1)
  t.equal((await app.inject({ method: 'POST', url: '/forgot', payload: { username: 'ann' } })).statusCode, 202)
  await tick()
  const closing = app.close()
  await tick()
  t.equal(sent, 0, 'the mail is still held')
  release()
  await closing
  t.equal(sent, 1, 'close waited for it')
})

t.test("a programmer's misuse of requestPasswordReset throws at once", async t => {
  const { app } = await buildPasswords(t)
  t.throws(() => app.requestPasswordReset('ann', {} as never), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /send/ })
  t.throws(() => app.requestPasswordReset('ann', undefined as never), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /send/ })
  for (const maxAge of [0, '1h', 1.5]) {
    t.throws(() => app.requestPasswordReset('ann', { send: () => {}, maxAge } as never), { code: 'FST_AUTH_INVALID_ARGUMENT', message: /maxAge/ })
  }
})

t.test('the rate-limit recipe: three requests per account, counted before the lookup, known or not', async t => {
  const users = new TestUsers()
  users.add({ id: 1, username: 'ann@example.com', email: 'ann@example.com', password: await hashOf('x') } as TestUser)
  const PUBLIC_ORIGIN = 'https://app.example.com'
  const outbox: Array<{ to: unknown, link: string }> = []
  const { app } = await build(t, {
    users,
    extend: async app => {
      await app.register(rateLimit, { global: false })
      // The recipe's body schema, as docs/passwords.md defines it above the routes.
      function body (...fields: string[]) {
        const properties = Object.fromEntries(fields.map(field => [field, { type: 'string' }]))
        return { type: 'object', required: fields, additionalProperties: false, properties }
      }
      // recipe:reset-rate-limit:start
      // Forgot password. One key per account however the address is typed, and no unbounded keys: three requests per
      // account a quarter hour, counted before the lookup for known and unknown addresses alike, so a 429 says no more
      // than the 202 does. Add a per-address limit the same way (`app.createRateLimit`) to stop one client mailing everyone.
      function resetAttemptKey (request: FastifyRequest): string {
        const { email } = request.body as { email: string }
        if (email.length > 512) return 'reset:invalid'
        return `reset:${email.normalize('NFKD').replace(/[\p{M}\p{Cf}\p{Z}\s]/gu, '').toLowerCase()}`
      }

      app.post<{ Body: { email: string } }>('/forgot-password', {
        schema: { body: body('email') },
        config: { rateLimit: { max: 3, timeWindow: '15 minutes', hook: 'preHandler', keyGenerator: resetAttemptKey } }
      }, async (request, reply) => {
        // Returns at once: the lookup and the mail happen after this answer, which is the same for every address.
        app.requestPasswordReset(request.body.email, {
          maxAge: 60 * 60 * 1000,
          // To `user.email`, the address your store holds: `username` is the string as the client typed it.
          // The token goes after `#`, which browsers never send: no request log, proxy or Referer header sees it.
          send: async ({ user, token }) => {
            outbox.push({ to: user.email, link: `${PUBLIC_ORIGIN}/reset-password#token=${token}` })
          }
        })
        return reply.code(202).send({ message: 'If an account uses that address, a link is on its way.' })
      })
      // recipe:reset-rate-limit:end
    }
  })
  assertReadmeShowsRecipe(t, __filename, 'reset-rate-limit')
  for (const email of ['ann@example.com', 'nobody@example.com']) {
    const statuses: number[] = []
    const before = users.calls.findByUsername
    for (const spelling of [email, email.toUpperCase(), ` ${email}`, email, email]) {
      const response = await app.inject({ method: 'POST', url: '/forgot-password', payload: { email: spelling } })
      statuses.push(response.statusCode)
    }
    for (let i = 0; i < 10; i++) await tick()
    t.same(statuses, [202, 202, 202, 429, 429], `${email}: the fourth request is refused, however the address is spelled`)
    t.equal(users.calls.findByUsername - before, 3, `${email}: refused requests cost no lookup`)
  }
  t.equal(outbox.length, 1, 'ann got one mail: the other spellings found no account in this store')
  t.match(outbox[0], { to: 'ann@example.com', link: /^https:\/\/app\.example\.com\/reset-password#token=[\w.-]+$/ })
})
