import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import type { LoginStore } from '../../lib/login-store/contract'
import { TEST_HASH_OPTIONS, TestUsers, addRoutes } from '../helper'

export const JWT_SECRET = 'a-jwt-secret-for-the-refresh-tests-32chars'
export const REFRESH_PATH = '/auth/refresh'

export interface ReuseEvent { userId: unknown, loginId: string, enumerableRequest: boolean }

export interface RefreshAppOptions {
  loginStore: LoginStore
  users: TestUsers
  /** Extra `jwt.refresh` options (cookie, expiresIn). */
  refresh?: Record<string, unknown>
  jwt?: Record<string, unknown>
  plugin?: Record<string, unknown>
  reuses?: ReuseEvent[]
}

/**
 * One app instance with refresh tokens, the routes of test/helper.ts and the documented refresh flow:
 * POST /auth/login -> { token, accessToken, refreshToken }, POST /auth/refresh (body `{ refreshToken }` or the cookie),
 * GET /logins, POST /end-login, POST /end-logins.
 */
export async function refreshApp (t: { teardown: (fn: () => unknown) => void }, options: RefreshAppOptions): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  const reuses = options.reuses
  await app.register(auth, {
    users: options.users,
    hashOptions: TEST_HASH_OPTIONS,
    defaultBackend: 'jwt',
    loginStore: options.loginStore,
    jwt: {
      secret: JWT_SECRET,
      refresh: {
        ...(reuses === undefined
          ? {}
          : {
              onReuse: (event: { request: unknown, userId: unknown, loginId: string }) => {
                reuses.push({ userId: event.userId, loginId: event.loginId, enumerableRequest: Object.keys(event).includes('request') })
              }
            }),
        ...options.refresh
      },
      ...options.jwt
    },
    ...options.plugin
  } as never)
  addRoutes(app)
  app.post('/auth/login', async (request) => {
    const { username, password, remember } = request.body as { username: string, password: string, remember?: boolean }
    const user = await request.authenticate(username, password)
    const token = await request.login({ user, ...(remember === undefined ? {} : { remember }) })
    return { token, ...request.issuedTokens() }
  })
  app.post(REFRESH_PATH, async (request) => {
    const body = request.body as { refreshToken?: string } | undefined
    const tokens = await request.refresh(body?.refreshToken)
    return { ...tokens, user: request.user, same: request.issuedTokens()?.refreshToken === tokens.refreshToken }
  })
  app.get('/logins', { preHandler: app.requireUser }, async (request) => await request.listLogins())
  app.post('/end-login', { preHandler: app.requireUser }, async (request) => ({ ended: await request.endLogin((request.body as { id: string }).id) }))
  app.post('/end-logins', async (request) => ({ ended: await app.endLogins((request.body as { userId: number }).userId) }))
  await app.ready()
  return app
}

export interface Pair { accessToken: string, refreshToken: string }

export async function loginPair (app: FastifyInstance, username = 'bob', password = 'pw', extra: Record<string, unknown> = {}): Promise<Pair> {
  const response = await app.inject({ method: 'POST', url: '/auth/login', payload: { username, password, ...extra } })
  if (response.statusCode !== 200) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return response.json() as Pair
}

export async function refreshWith (app: FastifyInstance, refreshToken: unknown): Promise<{ statusCode: number, code?: string, pair?: Pair, body: Record<string, unknown> }> {
  const response = await app.inject({ method: 'POST', url: REFRESH_PATH, payload: { refreshToken } })
  const body = response.json() as Record<string, unknown>
  return {
    statusCode: response.statusCode,
    code: body.code as string | undefined,
    pair: response.statusCode === 200 ? body as unknown as Pair : undefined,
    body
  }
}

export async function me (app: FastifyInstance, accessToken: string): Promise<number> {
  return (await app.inject({ url: '/me', headers: { authorization: `Bearer ${accessToken}` } })).statusCode
}

/** A store that counts every call the plugin makes, by method. */
export function countingStore<S extends object> (store: S): { store: S, calls: Record<string, number>, total: () => number, reset: () => void } {
  const calls: Record<string, number> = {}
  const wrapped: Record<string, unknown> = {}
  for (const name of ['get', 'create', 'delete', 'take', 'update', 'addEntry', 'replaceEntry', 'removeEntry', 'removeAllEntries', 'entries', 'swap']) {
    const method = (store as Record<string, unknown>)[name] as ((...args: unknown[]) => unknown) | undefined
    if (typeof method !== 'function') continue
    wrapped[name] = (...args: unknown[]) => {
      calls[name] = (calls[name] ?? 0) + 1
      return method.apply(store, args)
    }
  }
  return {
    store: wrapped as S,
    calls,
    total: () => Object.values(calls).reduce((a, b) => a + b, 0),
    reset: () => { for (const name of Object.keys(calls)) delete calls[name] }
  }
}
