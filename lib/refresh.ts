import { createHash, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { askUsers, backendNamed, emit, markResolvedBy, sameAuthHash, stateOf, type AuthState } from './auth'
import { InvalidOptionError } from './errors'
import type { LoginRecord } from './login-store'
import type { User } from './options'

/**
 * # Refresh tokens (docs/refresh-tokens.md)
 *
 * A refresh token is `<sid>.<secret>`: the handle of its JWT login's record (`auth-login:<sid>`) and 32 random
 * bytes. The record is the *family*: it holds the SHA-256 of the current secret (`refreshHash`), when that token
 * stops working unused (`refreshExpiresAt`), and the hashes of the last SPENT_KEPT spent ones (`refreshSpent`). So a
 * family is a login: listLogins shows it, endLogin/endLogins/logout/a password change end it, and its access tokens,
 * checked against the same record on every request, die with it.
 *
 * - Only hashes are stored: a copy of the store gives no usable token. SHA-256 rather than argon2 because the
 *   secret has 256 bits of entropy: there is nothing to guess, and a refresh must not queue behind password hashing.
 * - A refresh reads the record (one round trip) and spends the token with a compare-and-swap of `refreshHash`
 *   (`LoginStore.swap`, the second and last): of two refreshes with one token, on one instance or two, one swap
 *   succeeds. The other is a second use of a one-time token, and is treated as reuse.
 * - Reuse (RFC 9700, 4.14.2): a spent token presented again means two parties hold the family, and the server
 *   cannot tell the thief from the client, so the whole login ends and `jwt.refresh.onReuse` is told.
 * - A token whose hash the record never held is a plain 401 that ends nothing: the sid is readable in every access
 *   token, and a forged `<sid>.<anything>` must not log its victim out.
 * - No grace window for a client that lost the response: accepting the previous token for a few seconds would give
 *   a thief who replays within them a live pair, and the same race is what reuse detection exists to catch. A
 *   client that lost the response logs in again.
 */

/** How many spent hashes a record keeps: a spent token older than this is a plain 401, not detected as reuse. */
export const SPENT_KEPT = 16

// 22 base64url characters (the 16-byte sid), a dot, 43 (the 32-byte secret). An access token has three segments.
const REFRESH_TOKEN = /^([A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/

export interface ParsedRefreshToken {
  sid: string
  hash: string
}

function hashSecret (secret: string): string {
  return createHash('sha256').update(secret).digest('base64url')
}

/** The sid and the hash of the secret of something that has a refresh token's shape, else null. Never throws. */
export function parseRefreshToken (token: unknown): ParsedRefreshToken | null {
  const match = typeof token === 'string' ? REFRESH_TOKEN.exec(token) : null
  return match === null ? null : { sid: match[1] as string, hash: hashSecret(match[2] as string) }
}

/** A new refresh token for the login under `sid`, and the record fields that make it the current one. */
export function newRefreshToken (sid: string, maxAge: number, now: number): { token: string, fields: Required<Pick<LoginRecord, 'refreshHash' | 'refreshExpiresAt'>> } {
  const secret = randomBytes(32).toString('base64url')
  return { token: `${sid}.${secret}`, fields: { refreshHash: hashSecret(secret), refreshExpiresAt: now + maxAge } }
}

export interface RefreshedTokens {
  accessToken: string
  refreshToken: string
}

/** What the JWT backend asks the core during a refresh: whether the login's user still may use it. */
export type UserCheck = (record: LoginRecord) => User | null | Promise<User | null>

export interface RefreshingBackend {
  refresh (request: FastifyRequest, token: unknown, checkUser: UserCheck, onReuse: (record: LoginRecord) => Promise<void>): Promise<{ tokens: RefreshedTokens, user: User }>
}

function checkUser (state: AuthState): UserCheck {
  return async function checkUser (record) {
    const user = await askUsers('findById', () => state.options.users.findById(record.userId))
    if (user == null || !state.options.isActive(user) || !sameAuthHash(record.authHash, state.authHash(user))) return null
    return user as User
  }
}

/**
 * `request.refresh(token?)`: spends a refresh token (given, e.g. from the JSON body, or else read from the refresh
 * cookie) and resolves to a new access token and refresh token of the same login; sets `request.user`. Rejects with
 * 401 FST_AUTH_INVALID_REFRESH_TOKEN for every reason the token is refused, 503 when the store fails.
 */
export async function refresh (request: FastifyRequest, token?: unknown): Promise<RefreshedTokens> {
  const state = stateOf(request)
  const backend = backendNamed(state, 'jwt') as ReturnType<typeof backendNamed> & Partial<RefreshingBackend>
  if (backend.refresh === undefined) throw new InvalidOptionError('refresh() needs the `jwt.refresh` option')
  const onReuse = state.options.jwt?.refresh?.onReuse
  const { tokens, user } = await backend.refresh(request, token, checkUser(state), async (record) => {
    request.log.warn({ loginId: record.id, userId: record.userId }, 'fastify-auth-helpers: a spent refresh token was used again; its login has been ended')
    await emit(onReuse as Parameters<typeof emit>[0], 'jwt.refresh.onReuse', { request, userId: record.userId, loginId: record.id })
  })
  markResolvedBy(request, backend)
  request.user = user as typeof request.user
  return tokens
}
