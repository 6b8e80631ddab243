import type { FastifyRequest } from 'fastify'
import type { RefreshedTokens } from '../../types/index'
import { InvalidArgumentError, InvalidRefreshTokenError } from '../errors'
import { parseRefreshToken } from '../jwt/issuer'
import { sameAuthHash } from '../login/auth-hash'
import { admit } from '../login/door'
import { emit } from '../login/events'
import { findUser } from '../login/users'
import type { LoginRecord } from '../login-store/contract'
import { backendNamed, registrationOf } from '../registration'

/** How many spent hashes a family keeps: an older spent token is a plain 401, not detected as reuse. */
const SPENT_KEPT = 16

/**
 * `request.refresh(token?)`: spends a refresh token (given, or the refresh cookie's) for a new pair of the same login.
 * A family is a login record (docs/architecture.md, "Refresh families"): one read, then the door, whose store step is
 * a compare-and-swap of the current token's hash, so of two refreshes with one token exactly one wins. A spent token
 * presented again ends the whole family (RFC 9700, 4.14.2); a token the family never held is a plain 401 that ends
 * nothing, since anyone who saw an access token knows its sid.
 */
export async function refresh (request: FastifyRequest, given?: unknown): Promise<RefreshedTokens> {
  const registration = registrationOf(request)
  const jwt = backendNamed(registration, 'jwt') as NonNullable<typeof registration.backends.jwt>
  const logins = jwt.refreshLogins
  if (logins === undefined) throw new InvalidArgumentError('refresh() needs the `jwt.refresh` option')
  const fromCookie = given === undefined
  const presented = fromCookie ? jwt.refreshCookieOf(request) : given
  if (presented === null) {
    request.log.warn('fastify-auth-helpers: a refresh carried more than one refresh cookie (one may have been set by ' +
      'another subdomain); none was spent')
  }
  const refuse = (): never => {
    // A cookie that did not work is dropped, so the browser stops sending it.
    if (fromCookie && presented !== undefined) jwt.dropRefreshCookie(request)
    throw new InvalidRefreshTokenError()
  }
  const reused = async (record: LoginRecord): Promise<never> => {
    await logins.end({ handle: sid, record }, request, 'reused')
    request.log.warn({ loginId: record.id, userId: record.userId }, 'fastify-auth-helpers: a spent refresh token was used again; its login has been ended')
    await emit(registration.options.jwt?.refresh?.onReuse, 'jwt.refresh.onReuse', { request, userId: record.userId, loginId: record.id })
    return refuse()
  }

  const parsed = parseRefreshToken(presented)
  if (parsed === null) return refuse()
  const { sid, hash } = parsed
  const record = await logins.read(sid)
  if (record === null || record.backend !== 'jwt' || typeof record.refreshHash !== 'string') return refuse()
  // A store of the app's may drop an empty list: no spent hashes yet.
  const spent = Array.isArray(record.refreshSpent) ? record.refreshSpent : []
  if (!sameAuthHash(record.refreshHash, hash)) {
    if (spent.includes(hash)) return await reused(record)
    return refuse()
  }
  const now = logins.now()
  if (!(now < (record.refreshExpiresAt as number))) return refuse()

  const next = jwt.issueRefreshToken(sid, now)
  const admitted = await admit(registration, request, {
    way: 'refresh',
    backend: jwt,
    user: await findUser(registration, record.userId),
    userId: record.userId,
    continues: { backend: 'jwt', handle: sid, record },
    rotation: { expected: hash, refreshToken: next.token, fields: { ...next.fields, refreshSpent: [hash, ...spent].slice(0, SPENT_KEPT) } }
  })
  if (admitted === 'lost') {
    // Another refresh spent this token first (it was used twice), or the login ended meanwhile (a logout: nothing to say).
    // A sid names one login for its whole life (a new login draws a new one), so a record still under it is this one.
    const current = await logins.read(sid)
    if (current === null) return refuse()
    return await reused(current)
  }
  if (typeof admitted === 'string') return refuse()
  return jwt.issuedTokens(request) as RefreshedTokens
}
