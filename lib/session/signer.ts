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
 * @fastify/cookie's signer for the session secret (the same HMAC, the same cookies), remembering the signatures it
 * found valid, so that a cookie in use costs one HMAC, not one per request (docs/architecture.md, "The signature
 * cache"). Only valid signatures enter it, keyed by the whole cookie value; logout forgets its session's entry.
 */
export function cachingSigner (secret: string | Buffer | Array<string | Buffer>, algorithm: string | undefined, size: number): SessionSigner {
  const signer = signerFactory(secret as string | string[], algorithm)
  // A login's cookie is unsigned by the prefetch hook (`prime`) and then by @fastify/session: the second call with
  // the same input, next, gets the first answer.
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
 * onSend, after @fastify/session's: a cookie that verified with an older secret of a rotation is sent again, signed
 * with the first one and with the session's own expiry, whatever @fastify/session wrote for it (docs/architecture.md,
 * "Secret rotation"). Registered only for a rotation.
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
      // The expiry login gave (none for a browser-session cookie), not now plus maxAge.
      const { cookie: options } = session as RestoredSession
      reply.setCookie(cookieName, signed, { ...options.toJSON(), expires: options.originalExpires })
    }
    done()
  }
}
