import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import * as argon2 from 'argon2'
import argon2Module = require('argon2')
import auth from '../lib/index'
import { indexKey, indexScope } from '../lib/login-store/logins'

/**
 * The cheapest argon2 parameters the plugin accepts (OWASP's m=9216 KiB t=4 p=1, about as fast as any row of its table
 * here): tests check behaviour, not hashing cost, but the plugin refuses anything weaker, tests included.
 */
export const TEST_HASH_OPTIONS = { memoryCost: 9216, timeCost: 4, parallelism: 1 }
export const SECRET = 'a-test-secret-that-is-32-chars-long!!'

export interface TestUser {
  id: number
  username: string
  password?: unknown
  isActive?: boolean
}

/** An in-memory user store that counts its calls, so tests can prove how often the plugin looks users up. */
export class TestUsers {
  readonly byId = new Map<number, TestUser>()
  readonly calls = { findByUsername: 0, findById: 0, updatePasswordHash: 0 }
  readonly updates: Array<{ user: TestUser, hash: string }> = []
  failFindById = false

  add (user: TestUser): TestUser {
    this.byId.set(user.id, user)
    return user
  }

  findByUsername = async (username: string): Promise<TestUser | undefined> => {
    this.calls.findByUsername++
    for (const user of this.byId.values()) if (user.username === username) return user
    return undefined
  }

  findById = async (id: string | number): Promise<TestUser | undefined> => {
    this.calls.findById++
    if (this.failFindById) throw new Error('user store is down')
    return this.byId.get(Number(id))
  }

  updatePasswordHash = async (user: TestUser, hash: string): Promise<void> => {
    this.calls.updatePasswordHash++
    this.updates.push({ user, hash })
    user.password = hash
  }
}

/** The key of a user's login index in a registration whose auth hash key is `secret` (by default, the session secret). */
export function userIndexKey (userId: number | string, secret: string | Buffer = SECRET): string {
  return indexKey(indexScope(secret), userId)
}

export async function hashOf (password: string): Promise<string> {
  return argon2.hash(password.normalize('NFC'), { ...TEST_HASH_OPTIONS, type: argon2.argon2id })
}

export interface BuildOptions {
  users?: TestUsers
  /** Plugin options, over the test defaults (`users` here replaces the TestUsers, for a store of another shape). */
  plugin?: Record<string, unknown>
  /** @fastify/session options, merged over `{ secret, cookie: { secure: false } }` (`plugin.session` replaces them). */
  session?: Record<string, unknown>
  fastify?: FastifyServerOptions
  routes?: boolean
  /**
   * More plugins, routes or hooks, added after the test routes and before the app is ready. Awaited, so a plugin
   * registered here (a rate limiter's onRoute hook, say) is loaded before the routes that follow it.
   */
  extend?: (app: FastifyInstance) => unknown
}

/**
 * An app with the plugin on the session backend and the routes most tests need:
 * POST /login {username, password}, POST /check {username, password} (authenticate only), POST /login-id {userId},
 * POST /logout, GET /me (requireUser), GET /whoami.
 */
export async function build (t: { teardown: (fn: () => unknown) => void }, opts: BuildOptions = {}): Promise<{ app: FastifyInstance, users: TestUsers }> {
  const users = opts.users ?? new TestUsers()
  const app = Fastify(opts.fastify)
  t.teardown(() => app.close())
  await app.register(auth, {
    users,
    session: { secret: SECRET, cookie: { secure: false }, ...opts.session },
    hashOptions: TEST_HASH_OPTIONS,
    ...opts.plugin
  } as never)
  if (opts.routes !== false) addRoutes(app)
  await opts.extend?.(app)
  await app.ready()
  return { app, users }
}

export function addRoutes (app: FastifyInstance): void {
  app.post('/login', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    const user = await request.authenticate(username, password)
    const token = await request.login({ user })
    return { id: request.getUserId(), token: token ?? null }
  })
  app.post('/check', async (request) => {
    const { username, password } = request.body as { username: string, password: string }
    const user = await request.authenticate(username, password)
    return { id: (user as { id?: unknown }).id }
  })
  app.post('/login-id', async (request) => {
    await request.login({ userId: (request.body as { userId: number }).userId })
    return { id: request.getUserId() }
  })
  app.post('/logout', async (request) => {
    await request.logout()
    return { user: request.user }
  })
  app.get('/me', { preHandler: app.requireUser }, async (request) => ({ user: request.user }))
  app.get('/whoami', async (request) => ({ user: request.user, id: request.getUserId() }))
}

/** The name=value part of the response's Set-Cookie for `name`, or undefined. */
export function cookieFrom (response: { cookies: Array<{ name: string, value: string }> }, name = 'sessionId'): string | undefined {
  const cookie = response.cookies.find(c => c.name === name)
  return cookie === undefined || cookie.value === '' ? undefined : `${name}=${cookie.value}`
}

export async function loginAs (app: FastifyInstance, username: string, password: string): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
  const cookie = cookieFrom(response)
  if (response.statusCode !== 200 || cookie === undefined) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return cookie
}

export interface VerifyCall { digest: string, password: unknown }

/**
 * Replaces `argon2.verify` (on the module object lib/password.ts reads it from) with a spy that records each call
 * and then verifies for real. Restored at teardown.
 */
export function spyOnVerify (t: { teardown: (fn: () => unknown) => void }): VerifyCall[] {
  const calls: VerifyCall[] = []
  const module = argon2Module as unknown as { verify: typeof argon2.verify }
  const original = module.verify
  module.verify = function spiedVerify (digest, password, options) {
    calls.push({ digest, password })
    return original(digest, password, options)
  }
  t.teardown(() => { module.verify = original })
  return calls
}
