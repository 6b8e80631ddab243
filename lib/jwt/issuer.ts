import { createHash, randomBytes } from 'node:crypto'
import type { JWT } from '@fastify/jwt'
import type { JwtClaims, LoginRecord } from '../../types/index'
import { AUTH_HASH_KEY, AUTH_TIME_KEY, BACKEND_KEY, LOGIN_CREATED_KEY, LOGIN_EXPIRES_KEY, USER_ID_KEY } from '../constants'
import type { JwtAlgorithm } from '../options/jwt'
import { curveOf, lowS } from './ecdsa'

/** Makes every token the JWT backend hands out: access tokens for login, renewal and refresh, and refresh tokens. */
export interface Issuer {
  /**
   * An access token of the login: its claims from the record, a new `jti`, and `sid` when a store keeps the login. The
   * login's creation, end and last proof travel with it, so that a token no store keeps renews as what it is.
   */
  accessToken (record: LoginRecord, sid: string | undefined): { token: string, claims: JwtClaims }
  /** A refresh token of the login under `sid`, and the record fields that make it the current one. */
  refreshToken (sid: string, now: number): { token: string, fields: Required<Pick<LoginRecord, 'refreshHash' | 'refreshExpiresAt'>> }
}

/** `<sid>.<secret>`: the 16-byte sid of the login's record, a dot, 32 random bytes; an access token has three parts. */
const REFRESH_TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/

/** SHA-256, not argon2: the secret has 256 bits of entropy, and a refresh must not queue behind password hashing. */
function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}

/** The sid and the hash of the secret of what has a refresh token's shape, else null. */
export function parseRefreshToken (token: unknown): { sid: string, hash: string } | null {
  const match = typeof token === 'string' ? REFRESH_TOKEN.exec(token) : null
  return match === null ? null : { sid: match[1] as string, hash: hashSecret(match[2] as string) }
}

export function createIssuer (signer: JWT, algorithm: JwtAlgorithm, expiresIn: number, refreshMaxAge: number): Issuer {
  const curve = curveOf(algorithm)
  return {
    accessToken (record, sid) {
      const iat = Math.floor(Date.now() / 1000)
      const claims: JwtClaims = Object.freeze({
        [USER_ID_KEY]: record.userId,
        [BACKEND_KEY]: 'jwt',
        [AUTH_HASH_KEY]: record.authHash,
        jti: randomBytes(16).toString('base64url'),
        ...(sid === undefined ? {} : { sid }),
        [LOGIN_CREATED_KEY]: Math.floor(record.createdAt / 1000),
        [LOGIN_EXPIRES_KEY]: Math.floor(record.expiresAt / 1000),
        [AUTH_TIME_KEY]: Math.floor(record.authenticatedAt / 1000),
        iat,
        exp: iat + expiresIn
      })
      const signed = signer.sign(claims)
      return { token: curve === undefined ? signed : (lowS(signed, curve) as { token: string }).token, claims }
    },

    refreshToken (sid, now) {
      const secret = randomBytes(32).toString('base64url')
      return { token: `${sid}.${secret}`, fields: { refreshHash: hashSecret(secret), refreshExpiresAt: now + refreshMaxAge } }
    }
  }
}
