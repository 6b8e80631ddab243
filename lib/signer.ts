import { signerFactory, type UnsignResult } from '@fastify/cookie'
import { Lru } from 'toad-cache'

export interface SessionSigner {
  sign (value: string): string
  unsign (input: string): UnsignResult
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
 *   cookies in use.
 */
export function cachingSigner (secret: string | Buffer | Array<string | Buffer>, algorithm: string | undefined, size: number): SessionSigner {
  const signer = signerFactory(secret as string | string[], algorithm)
  if (size === 0) return signer
  const checked = new Lru<UnsignResult>(size)
  const signedIds = new Lru<string>(size)
  return {
    sign (value) {
      if (typeof value !== 'string') return signer.sign(value)
      return signedIds.get(value) ?? signer.sign(value)
    },
    unsign (input) {
      if (typeof input !== 'string') return signer.unsign(input)
      const known = checked.get(input)
      if (known !== undefined) return known
      const result = signer.unsign(input)
      if (result.valid) {
        checked.set(input, Object.freeze(result))
        if (!result.renew) signedIds.set(result.value, input)
      }
      return result
    }
  }
}
