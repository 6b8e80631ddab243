import type { FastifyInstance } from 'fastify'
import { buildDemo } from '../../examples/demo/app.js'
import { TEST_HASH_OPTIONS, cookieFrom } from '../helper'

// What the demo's tests share: the app with cheap argon2, and a browser's way through its forms.

export async function demo (t: { teardown: (fn: () => unknown) => void }, options: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app: FastifyInstance = await buildDemo({ hashOptions: TEST_HASH_OPTIONS, ...options })
  t.teardown(() => app.close())
  return app
}

export interface Visit { cookie: string | undefined, token: string, body: string }

/** GET / as a browser would: the session cookie it sets (or the one it kept) and the form's CSRF token. */
export async function visit (app: FastifyInstance, cookie?: string): Promise<Visit> {
  const response = await app.inject({ url: '/', headers: cookie === undefined ? {} : { cookie } })
  const token = /name="_csrf" value="([^"]+)"/.exec(response.body)?.[1]
  if (response.statusCode !== 200 || token === undefined) throw new Error(`GET / failed: ${response.statusCode}`)
  return { cookie: cookieFrom(response) ?? cookie, token, body: response.body }
}

export function post (app: FastifyInstance, url: string, cookie: string | undefined, form: Record<string, string>) {
  return app.inject({
    method: 'POST',
    url,
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(cookie === undefined ? {} : { cookie }) },
    payload: new URLSearchParams(form).toString()
  })
}

/** The sign-in form posted as a browser would, from the page `page` (a fresh visit when absent). */
export async function signIn (app: FastifyInstance, username: string, password: string, page?: Visit) {
  const { cookie, token } = page ?? await visit(app)
  return post(app, '/login', cookie, { _csrf: token, username, password })
}
