import type { FastifyInstance } from 'fastify'
import { TestUsers, build, cookieFrom, hashOf, type TestUser } from '../helper'
import { JWT_SECRET, bearer } from '../jwt/helper'

// What the password tests share: an app with both backends and a route for each password call.

export interface Mail { to: string, token: string, userId: unknown }

export interface PasswordApp {
  app: FastifyInstance
  users: TestUsers
  ann: TestUser
  bob: TestUser
  /** What requestPasswordReset sent, in order. */
  outbox: Mail[]
}

export const BACKENDS = ['session', 'jwt'] as const
export type BackendName = typeof BACKENDS[number]

/**
 * Users ann (id 1, password "old password") and bob (id 2, "bobs password"); the routes of test/helper.ts, and
 * POST /token (a JWT login), POST /password { current, next }, POST /reset { token, password },
 * POST /verify { token, purpose }, POST /forgot { username } (202, the same for everyone), GET /token-for/:id.
 */
export async function buildPasswords (t: { teardown: (fn: () => unknown) => void }, plugin: Record<string, unknown> = {}, users = new TestUsers()): Promise<PasswordApp> {
  const outbox: Mail[] = []
  // A store shared by several apps (instances) keeps its users, and their hashes.
  const ann = users.byId.get(1) ?? users.add({ id: 1, username: 'ann', password: await hashOf('old password') })
  const bob = users.byId.get(2) ?? users.add({ id: 2, username: 'bob', password: await hashOf('bobs password') })
  const { app } = await build(t, {
    users,
    plugin: { jwt: { secret: JWT_SECRET }, ...plugin },
    extend: app => {
      app.post('/token', async request => {
        const { username, password } = request.body as { username: string, password: string }
        const user = await request.authenticate(username, password)
        return { token: await request.login({ user, backend: 'jwt' }) }
      })
      app.post('/token-id', async request => ({ token: await request.login({ userId: (request.body as { userId: number }).userId, backend: 'jwt' }) }))
      app.post('/password', async request => {
        const { current, next } = request.body as { current: string, next: string }
        return { token: await request.changePassword(current, next) ?? null, id: request.getUserId(), jwt: request.getUserId('jwt') }
      })
      app.post('/reset', async request => {
        const { token, password } = request.body as { token: string, password: string }
        const user = await app.resetPassword(token, password) as unknown as TestUser
        return { id: user.id }
      })
      app.post('/verify', async request => {
        const { token, purpose } = request.body as { token: string, purpose: string }
        const user = await app.verifyUserToken(token, { purpose }) as unknown as TestUser
        return { id: user.id }
      })
      app.post('/forgot', async (request, reply) => {
        app.requestPasswordReset((request.body as { username: string }).username, {
          send: ({ user, token, username }) => { outbox.push({ to: username, token, userId: (user as unknown as TestUser).id }) }
        })
        return reply.code(202).send({ message: 'If that account exists, a link is on its way' })
      })
    }
  })
  return { app, users, ann, bob, outbox }
}

/** A login of `username` on `backend`: the headers that carry it. */
export async function signIn (app: FastifyInstance, backend: BackendName, username: string, password: string): Promise<Record<string, string>> {
  const response = await app.inject({ method: 'POST', url: backend === 'jwt' ? '/token' : '/login', payload: { username, password } })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return backend === 'jwt' ? bearer(response.json().token) : { cookie: cookieFrom(response) as string }
}

/** The id of the user these headers are logged in as, or null. */
export async function whoIs (app: FastifyInstance, headers: Record<string, string>): Promise<unknown> {
  const response = await app.inject({ url: '/whoami', headers })
  return response.json().user?.id ?? null
}
