import { signerFactory, type UnsignResult } from '@fastify/cookie'
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
