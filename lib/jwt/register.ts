import { randomBytes } from 'node:crypto'
import fastifyCookie from '@fastify/cookie'
import fastifyJwt, { type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { peekContext } from '../context'
import { InvalidOptionError } from '../errors'
import type { CookieSpec, ResolvedJwtOptions } from '../options/jwt'

/**
 * One @fastify/jwt per key, in a context of their own: their decorators stay out of the app's scope, so the app can
 * register @fastify/jwt for its own tokens, and `request.user` stays the user this plugin resolves.
 */
export async function registerKeys (fastify: FastifyInstance, options: ResolvedJwtOptions): Promise<JWT[]> {
  // Namespaces of their own, so that two registrations under an app with its own @fastify/jwt do not collide.
  const id = randomBytes(6).toString('hex')
  const jwts: JWT[] = []
  await fastify.register(async function fastifyAuthHelpersJwt (child) {
    for (const [index, key] of options.keys.entries()) {
      const namespace = `fastifyAuthHelpers${id}_${index}`
      await child.register(fastifyJwt, {
        namespace,
        decoratorName: `${namespace}Payload`,
        secret: key.secret,
        sign: { algorithm: key.algorithm, kid: key.kid },
        verify: {
          // Only this key's algorithm: `alg: none`, HMAC signed with a public key, and every other swap fail here.
          algorithms: [key.algorithm],
          // fast-jwt takes a token without `exp` as never expiring, unless told otherwise.
          requiredClaims: ['exp', 'iat'],
          // Shortening `jwt.expiresIn` shortens the tokens already out there too.
          maxAge: options.expiresIn,
          complete: true,
          // The cache saves only the signature and expiry checks; the login and the auth hash are checked after it.
          cache: options.cacheSize
        }
      })
      jwts.push((child.jwt as unknown as Record<string, JWT>)[namespace] as JWT)
    }
  })
  return jwts
}

/** The token cookies are written on the response's way out, after `abandon` has withheld a failed login's. */
export async function registerCookies (fastify: FastifyInstance, options: ResolvedJwtOptions): Promise<void> {
  const { cookie, refresh } = options
  const refreshCookie = refresh?.cookie
  if (cookie === undefined && refreshCookie === undefined) return
  if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
  if (cookie !== undefined) {
    const persistent = { maxAge: options.expiresIn, ...cookie.options }
    serializable(fastify, cookie.name, persistent, 'jwt.cookie')
    // `remember: false`: a cookie the browser drops when it closes; the token still ends at its `exp`.
    const { maxAge: _maxAge, ...browserSession } = persistent
    fastify.addHook('onSend', cookieWriter(cookie, state => state.cookie, persistent, browserSession, false))
  }
  if (refreshCookie !== undefined) {
    const persistent = { ...refreshCookie.options, maxAge: Math.floor((refresh as { maxAge: number }).maxAge / 1000) }
    fastify.addHook('onSend', cookieWriter(refreshCookie, state => state.refreshCookie, persistent, refreshCookie.options, true))
  }
}

/** Options the cookie library refuses (an invalid domain, say) fail here, not the first login's response. */
function serializable (fastify: FastifyInstance, name: string, options: object, option: string): void {
  try {
    fastify.serializeCookie(name, 'token', options as Parameters<FastifyInstance['serializeCookie']>[2])
  } catch (err) {
    throw new InvalidOptionError(`\`${option}\`: ${(err as Error).message}`)
  }
}

type TokenState = NonNullable<NonNullable<ReturnType<typeof peekContext>>['token']>

function cookieWriter (spec: CookieSpec, pendingOf: (state: TokenState) => string | null | undefined, persistent: object, browserSession: object, skipOn5xx: boolean) {
  return function writeTokenCookie (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    const state = peekContext(request)?.token
    const pending = state === undefined ? undefined : pendingOf(state)
    if (pending === null) reply.clearCookie(spec.name, spec.options)
    else if (pending !== undefined && !(skipOn5xx && reply.statusCode >= 500)) {
      reply.setCookie(spec.name, pending, (state?.remember === false ? browserSession : persistent) as typeof spec.options)
    }
    done()
  }
}
