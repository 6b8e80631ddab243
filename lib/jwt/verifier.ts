import type { JWT } from '@fastify/jwt'
import type { FastifyRequest } from 'fastify'
import type { JwtClaims } from '../../types/index'
import { AUTH_HASH_KEY, AUTH_TIME_KEY, BACKEND_KEY, LOGIN_CREATED_KEY, LOGIN_EXPIRES_KEY, USER_ID_KEY, isValidUserId } from '../constants'
import type { JwtKey } from '../options/jwt'
import { curveOf, lowS, type Curve } from './ecdsa'

interface VerifyingKey {
  kid: string | undefined
  jwt: JWT
  curve: Curve | undefined
}

interface CompleteToken {
  header: { kid?: unknown }
  payload: Record<string, unknown>
}

const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'

/**
 * fast-jwt compares signatures after decoding them, and the spare low bits of a segment's last character decode to
 * nothing: only the canonical spelling is accepted, so a token that differs from an issued one never authenticates.
 */
function isCanonicalBase64url (segment: string): boolean {
  const spareBits = (segment.length * 6) % 8
  if (spareBits === 0) return true
  // A length of 4n + 1 leaves a character that encodes no byte at all.
  if (spareBits === 6) return false
  return (BASE64URL.indexOf(segment.charAt(segment.length - 1)) & ((1 << spareBits) - 1)) === 0
}

/** The `kid` of a token's header, read only to pick the key; the signature check decides. */
function headerKid (token: string): unknown {
  try {
    const header: unknown = JSON.parse(Buffer.from(token.slice(0, token.indexOf('.')), 'base64url').toString('utf8'))
    return (header as { kid?: unknown } | null)?.kid
  } catch {
    return null
  }
}

/** The plugin's own claims, checked and copied: a hook that writes to them cannot touch fast-jwt's cache. */
function claimsOf (payload: Record<string, unknown>): JwtClaims | null {
  const userId = payload[USER_ID_KEY]
  const authHash = payload[AUTH_HASH_KEY]
  const { jti, sid } = payload
  const created = payload[LOGIN_CREATED_KEY]
  const expires = payload[LOGIN_EXPIRES_KEY]
  const authTime = payload[AUTH_TIME_KEY]
  if (payload[BACKEND_KEY] !== 'jwt' || !isValidUserId(userId) || typeof authHash !== 'string' ||
      typeof jti !== 'string' || jti.length === 0 || (sid !== undefined && !(typeof sid === 'string' && sid.length > 0)) ||
      !Number.isSafeInteger(created) || !Number.isSafeInteger(expires) || !Number.isSafeInteger(authTime)) {
    return null
  }
  // fast-jwt has checked `iat` and `exp`: both are required numbers.
  return Object.freeze({
    [USER_ID_KEY]: userId,
    [BACKEND_KEY]: 'jwt',
    [AUTH_HASH_KEY]: authHash,
    jti,
    ...(sid === undefined ? {} : { sid }),
    [LOGIN_CREATED_KEY]: created as number,
    [LOGIN_EXPIRES_KEY]: expires as number,
    [AUTH_TIME_KEY]: authTime as number,
    iat: payload.iat as number,
    exp: payload.exp as number
  })
}

/** The claims of a token one of `keys` signed and the plugin issued, or null; never throws on a bad token. */
export function createVerifier (jwts: JWT[], keys: readonly JwtKey[]): (request: FastifyRequest, token: string) => JwtClaims | null {
  const verifying: VerifyingKey[] = jwts.map((jwt, index) => {
    const key = keys[index] as JwtKey
    return { kid: key.kid, jwt, curve: curveOf(key.algorithm) }
  })
  const onlyKey = verifying.length === 1 ? verifying[0] : undefined
  const byKid = new Map<unknown, VerifyingKey>(verifying.map(key => [key.kid, key]))
  return function verify (request, token) {
    try {
      if (!isCanonicalBase64url(token.slice(token.lastIndexOf('.') + 1))) return null
      const key = onlyKey ?? byKid.get(headerKid(token))
      if (key === undefined) return null
      if (key.curve !== undefined && lowS(token, key.curve)?.wasLow !== true) return null
      const { header, payload } = key.jwt.verify<CompleteToken>(token)
      // With one key too: a token naming a key this backend does not have was not made by it.
      return header.kid === key.kid ? claimsOf(payload) : null
    } catch (err) {
      request.log.debug({ code: (err as { code?: unknown }).code }, 'fastify-auth-helpers: JWT refused')
      return null
    }
  }
}
