import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { SessionCookieOptions } from '../options/session'

/** Takes off the response every Set-Cookie that carries `signedId`, the session's cookie value. */
export function dropSetCookie (reply: FastifyReply, signedId: string): void {
  const header = reply.getHeader('set-cookie')
  if (header === undefined) return
  const headers = Array.isArray(header) ? header : [String(header)]
  // As @fastify/session writes it (unencoded), or encoded as cookie libraries do by default.
  const spellings = [signedId, encodeURIComponent(signedId)]
  const others = headers.filter(value => !spellings.some(spelling => value.includes(`=${spelling};`)))
  if (others.length === headers.length) return
  reply.removeHeader('set-cookie')
  if (others.length > 0) reply.header('set-cookie', others)
}

/**
 * onSend, after @fastify/session's, which expires a replaced cookie with only its path and domain: browsers ignore that
 * for a `__Host-` cookie (no Secure) and a partitioned one, so it is sent again with the cookie's own flags.
 */
export function expireCookieWithItsFlags (cookieName: string, cookie: SessionCookieOptions) {
  const expiring = (header: string): boolean => header.startsWith(`${cookieName}=;`) && /;\s*Max-Age=0(?:;|$)/i.test(header)
  return function expireCookieWithItsFlags (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    const header = reply.getHeader('set-cookie')
    if (header === undefined) {
      done()
      return
    }
    const headers = Array.isArray(header) ? header : [String(header)]
    const others = headers.filter(value => !expiring(value))
    if (others.length < headers.length) {
      reply.removeHeader('set-cookie')
      if (others.length > 0) reply.header('set-cookie', others)
      reply.clearCookie(cookieName, {
        path: cookie.path ?? '/',
        domain: cookie.domain,
        secure: cookie.secure === 'auto' ? request.protocol === 'https' : cookie.secure,
        httpOnly: cookie.httpOnly,
        sameSite: cookie.sameSite as 'lax',
        partitioned: cookie.partitioned
      })
    }
    done()
  }
}
