import { signerFactory, type UnsignResult } from '@fastify/cookie'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { Lru } from 'toad-cache'

export interface SessionSigner {
  sign (value: string): string
  unsign (input: string): UnsignResult
  /** Unsigns a cookie ahead of @fastify/session, whose next unsign of the same input gets this answer without an HMAC. */
  prime (input: string): UnsignResult
  /** Drops what is remembered of a session's cookie: its login has ended, and its entry would only take room. */
  forget (sessionId: string): void
}

/**
 * The signer @fastify/session would make from the secret (@fastify/cookie's, same algorithm, same cookies), with the
 * signatures it has already checked remembered. Without it every request with a session cookie pays an HMAC (about
 * 5 µs here, the most expensive single call of an authenticated request, bench/README.md), and with a store that
 * keeps sessions as JSON (Redis) a second one to sign the same id again. Checking again a cookie string whose
 * signature matched a moment ago buys no safety: whether the session still exists is the store's answer, asked on
 * every request all the same. Like fast-jwt's verification cache on the JWT side:
 * - only valid signatures are remembered, keyed by the whole cookie value, so nothing a client makes up can enter
 *   it or match an entry; a made-up cookie costs the HMAC, as before;
 * - an entry belongs to this signer and its secrets: rotating the secrets makes a new signer;
 * - `sign` answers from it only for ids whose cookie was checked with the first secret, where the two are the same
 *   string; a new session's id (every anonymous request makes one) is not remembered, so visitors cannot evict the
 *   cookies in use;
 * - logout forgets its session's cookie, so that logins and logouts leave nothing behind.
 */
export function cachingSigner (secret: string | Buffer | Array<string | Buffer>, algorithm: string | undefined, size: number): SessionSigner {
  const signer = signerFactory(secret as string | string[], algorithm)
  // A login's cookie is unsigned twice per request: by the hook that starts reading the login record (`prime`) and
  // then by @fastify/session. The first answer is handed to the second call with the same input, once: unsign is a
  // function of the input and the secrets, and nothing runs between the two hooks.
  let primedInput: string | undefined
  let primedResult: UnsignResult | undefined
  const consume = (input: string, unsign: (input: string) => UnsignResult): UnsignResult => {
    if (input === primedInput) {
      primedInput = undefined
      return primedResult as UnsignResult
    }
    return unsign(input)
  }
  if (size === 0) {
    return Object.assign(Object.create(signer) as typeof signer, {
      unsign: (input: string) => typeof input === 'string' ? consume(input, value => signer.unsign(value)) : signer.unsign(input),
      prime (input: string) {
        primedResult = Object.freeze(signer.unsign(input))
        primedInput = input
        return primedResult
      },
      forget () {}
    })
  }
  const checked = new Lru<UnsignResult>(size)
  // By session id: the cookie that was found valid for it, to sign the id again without an HMAC and to forget it.
  const cookies = new Lru<{ input: string, renew: boolean }>(size)
  return {
    sign (value) {
      if (typeof value !== 'string') return signer.sign(value)
      const known = cookies.get(value)
      return known !== undefined && !known.renew ? known.input : signer.sign(value)
    },
    unsign (input) {
      if (typeof input !== 'string') return signer.unsign(input)
      const known = checked.get(input)
      if (known !== undefined) return known
      const result = consume(input, value => signer.unsign(value))
      if (result.valid) {
        checked.set(input, Object.freeze(result))
        cookies.set(result.value, { input, renew: result.renew })
      }
      return result
    },
    prime (input) {
      primedInput = undefined
      const result = this.unsign(input)
      primedResult = result
      primedInput = input
      return result
    },
    forget (sessionId) {
      const known = cookies.get(sessionId)
      if (known === undefined) return
      cookies.delete(sessionId)
      checked.delete(known.input)
    }
  }
}

interface RestoredSession {
  sessionId?: unknown
  cookie: { secure?: unknown, originalExpires?: Date, toJSON (): Record<string, unknown> }
}

/**
 * onSend, after @fastify/session's: a session cookie that verified with an older secret of a rotation is sent again,
 * signed with the first one, with the session's own expiry. @fastify/session signs the session's id anew with the
 * first secret, sees another string than the cookie, and without `rolling` (the plugin turns it off) neither saves
 * the session nor sets the cookie: it expires the cookie instead. With a store that keeps JSON (connect-redis) the
 * first request after a rotation logged everyone out. MemoryStore keeps the session object, and with it the cookie
 * string it was first signed as, so there the cookie was never re-signed (dropping the old secret later logged
 * everyone out), and once re-signed here @fastify/session would expire it, or set the old string again, on each later
 * request. So whenever the request's cookie names this very session (it kept its id: no login or logout renewed it),
 * whatever @fastify/session wrote for that cookie is replaced: by the cookie signed with the first secret when that
 * is another string or the session was saved, else by nothing. Only registered for a rotation (two or more secrets).
 */
export function renewRotatedCookie (cookieName: string, signer: Pick<SessionSigner, 'sign' | 'unsign'>, cookiePrefix = '') {
  const expiring = (header: string): boolean => /;\s*Max-Age=0(?:;|$)/i.test(header)
  return function renewRotatedCookie (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    const session = (request as unknown as { session?: RestoredSession | null }).session
    const cookie = request.cookies[cookieName]
    const sessionId = session?.sessionId
    if (typeof sessionId !== 'string' || cookie === undefined || !cookie.startsWith(cookiePrefix) ||
        (session?.cookie.secure === true && request.protocol !== 'https')) {
      done()
      return
    }
    const unsigned = signer.unsign(cookie.slice(cookiePrefix.length))
    const header = reply.getHeader('set-cookie')
    const headers = header === undefined ? [] : Array.isArray(header) ? header : [String(header)]
    const written = headers.filter(value => value.startsWith(`${cookieName}=`))
    if (!unsigned.valid || unsigned.value !== sessionId || (written.length === 0 && !unsigned.renew)) {
      done()
      return
    }
    const others = headers.filter(value => !value.startsWith(`${cookieName}=`))
    reply.removeHeader('set-cookie')
    if (others.length > 0) reply.header('set-cookie', others)
    const signed = `${cookiePrefix}${signer.sign(sessionId)}`
    if (signed !== cookie || !written.every(expiring)) {
      // The expiry the browser holds, which login gave (none for a browser-session cookie): @fastify/session's own
      // would be now plus maxAge.
      const { cookie: options } = session as RestoredSession
      reply.setCookie(cookieName, signed, { ...options.toJSON(), expires: options.originalExpires })
    }
    done()
  }
}
