import type { FastifyInstance, InjectOptions } from 'fastify'
import { cookieFrom } from '../helper'

/** A clock the test moves by hand: the plugin's `now` option. */
export function fakeClock (start = 1_800_000_000_000): { now: () => number, advance: (ms: number) => void } {
  let time = start
  return { now: () => time, advance: (ms) => { time += ms } }
}

/**
 * The routes of the login-management page: GET /logins (request.listLogins), POST /logins/end {id}
 * (request.endLogin), POST /logins/end-others (request.endOtherLogins).
 */
export function addLoginRoutes (app: FastifyInstance): void {
  app.get('/logins', async (request) => ({ logins: await request.listLogins() }))
  app.post('/logins/end', async (request) => ({ ended: await request.endLogin((request.body as { id: string }).id) }))
  app.post('/logins/end-others', async (request) => ({ ended: await request.endOtherLogins() }))
}

/** A session login on `app` from the given device; resolves to its cookie. */
export async function loginFrom (app: FastifyInstance, device: { ua?: string, ip?: string } = {}, username = 'bob', password = 'pw'): Promise<string> {
  const response = await app.inject({
    method: 'POST',
    url: '/login',
    payload: { username, password },
    headers: device.ua === undefined ? {} : { 'user-agent': device.ua },
    ...(device.ip === undefined ? {} : { remoteAddress: device.ip })
  })
  const cookie = cookieFrom(response)
  if (response.statusCode !== 200 || cookie === undefined) throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return cookie
}

export interface ListedLogin {
  id: string
  backend: string
  createdAt: string
  lastSeenAt: string
  expiresAt: string | null
  userAgent: string | null
  ip: string | null
  current: boolean
}

export async function listWith (app: FastifyInstance, headers: InjectOptions['headers']): Promise<ListedLogin[]> {
  const response = await app.inject({ url: '/logins', headers })
  if (response.statusCode !== 200) throw new Error(`listLogins: ${response.statusCode} ${response.body}`)
  return response.json().logins
}

export async function statusOf (app: FastifyInstance, headers: InjectOptions['headers']): Promise<number> {
  return (await app.inject({ url: '/me', headers })).statusCode
}
