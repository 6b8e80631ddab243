import { randomBytes } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { JwtClaims, RefreshedTokens } from '../../types/index'
import type { Backend, LoginPlan, StoredLogin } from '../backend'
import { AUTH_HASH_KEY, AUTH_TIME_KEY, LOGIN_CREATED_KEY, LOGIN_EXPIRES_KEY, USER_ID_KEY } from '../constants'
import { contextOf, peekContext, type TokenState } from '../context'
import { RevocationFailedError } from '../errors'
import { isThenable, type LoginRecord } from '../login-store/contract'
import type { Logins } from '../login-store/logins'
import type { ResolvedJwtOptions } from '../options/jwt'
import { withTimeout } from '../store'
import { createIssuer, type Issuer } from './issuer'
import { registerCookies, registerKeys } from './register'
import { createVerifier } from './verifier'

/** The JWT backend, which a request can carry two ways: the entry orders them apart from each other. */
export interface JwtBackend extends Backend {
  /** Whether the request has a Bearer Authorization header. */
  carriesHeader (request: FastifyRequest): boolean
  /** Whether the request has a token cookie and no Bearer header (the header's token comes first). */
  carriesCookie (request: FastifyRequest): boolean
  /** The pair that login() or refresh() issued on this request, with `jwt.refresh`. */
  issuedTokens (request: FastifyRequest): RefreshedTokens | null
  /** Where JWT logins are kept, when a login store keeps them. */
  readonly keptLogins: Logins | undefined
  /** Where refresh families are kept, with `jwt.refresh`. */
  readonly refreshLogins: Logins | undefined
  /** A new refresh token of the family under `sid`, and the record fields that make it the current one. */
  issueRefreshToken: Issuer['refreshToken']
  /** The refresh cookie's token, when there is a refresh cookie; null when the request carries more than one. */
  refreshCookieOf (request: FastifyRequest): string | undefined | null
  /** Tells the browser to drop the refresh cookie with this response. */
  dropRefreshCookie (request: FastifyRequest): void
}

// RFC 6750, section 2.1: the scheme is case-insensitive, and the token is one word.
const BEARER = /^bearer /i
const BEARER_TOKEN = /^bearer +(\S+) *$/i
const CHALLENGE = 'Bearer'
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'

/**
 * A token login no store keeps: what the token says of its login, so that `requireRecentLogin` and the lifetimes read
 * the same times from every login, and a renewal carries them over.
 */
function untrackedRecord (claims: JwtClaims): LoginRecord {
  return {
    id: claims.jti,
    userId: claims[USER_ID_KEY],
    authHash: claims[AUTH_HASH_KEY],
    backend: 'jwt',
    createdAt: claims[LOGIN_CREATED_KEY] * 1000,
    authenticatedAt: claims[AUTH_TIME_KEY] * 1000,
    seenAt: claims.iat * 1000,
    expiresAt: claims[LOGIN_EXPIRES_KEY] * 1000,
    remember: null,
    userAgent: null,
    ip: null
  }
}

function loginOf (claims: JwtClaims | null): StoredLogin | null {
  return claims === null ? null : { userId: claims[USER_ID_KEY], authHash: claims[AUTH_HASH_KEY] }
}

/** How many cookies named `name` a Cookie header holds (a cookie parser keeps one of them, and says nothing). */
function cookiesNamed (header: string, name: string): number {
  let count = 0
  for (const pair of header.split(';')) {
    const equals = pair.indexOf('=')
    if (equals > 0 && pair.slice(0, equals).trim() === name) count++
  }
  return count
}

function tokenState (request: FastifyRequest): TokenState {
  return (contextOf(request).token ??= { claims: null, cookie: undefined, refreshCookie: undefined, remember: undefined, made: undefined, issued: undefined })
}

/**
 * @param logins where JWT logins are kept, when the app gave a login store: each token then carries its login's
 * handle as `sid`, and stops authenticating as soon as its login ends. Without one, tokens stand alone until `exp`.
 */
export async function createJwtBackend (fastify: FastifyInstance, options: ResolvedJwtOptions, logins: Logins | undefined, now: () => number): Promise<JwtBackend> {
  const { cookie, revoke, isRevoked, storeTimeout, refresh } = options
  const jwts = await registerKeys(fastify, options)
  const issuer = createIssuer(jwts[0] as (typeof jwts)[number], options.keys[0].algorithm, options.expiresIn, refresh?.maxAge ?? 0)
  const verify = createVerifier(jwts, options.keys)
  await registerCookies(fastify, options)
  const refreshCookie = refresh?.cookie

  function cookieToken (request: FastifyRequest): string | undefined {
    return cookie === undefined ? undefined : request.cookies?.[cookie.name] || undefined
  }

  function carriesHeader (request: FastifyRequest): boolean {
    const authorization = request.headers.authorization
    return typeof authorization === 'string' && BEARER.test(authorization)
  }

  function carries (request: FastifyRequest): boolean {
    return carriesHeader(request) || cookieToken(request) !== undefined
  }

  /** The Authorization header's token when it names the Bearer scheme, else the cookie's. */
  function tokenOf (request: FastifyRequest): string | undefined {
    const authorization = request.headers.authorization
    if (typeof authorization === 'string' && BEARER.test(authorization)) return BEARER_TOKEN.exec(authorization)?.[1]
    return cookieToken(request)
  }

  /** An app's revocation hook; a failure, a hang or a wrong answer fails the request (fail closed). */
  async function callHook (name: 'revoke' | 'isRevoked', hook: (claims: JwtClaims) => unknown, claims: JwtClaims): Promise<unknown> {
    try {
      const result = hook(claims)
      return isThenable(result) ? await withTimeout(Promise.resolve(result), storeTimeout, `jwt.${name}`) : result
    } catch (err) {
      throw new RevocationFailedError(name, { cause: err })
    }
  }

  async function isStillValid (hook: (claims: JwtClaims) => unknown, claims: JwtClaims): Promise<boolean> {
    const revoked = await callHook('isRevoked', hook, claims)
    if (typeof revoked !== 'boolean') {
      throw new RevocationFailedError('isRevoked', { cause: new TypeError(`isRevoked returned ${typeof revoked}, not a boolean`) })
    }
    return !revoked
  }

  /** The token's login, if its record (when logins are kept) still says it is live. */
  function accept (request: FastifyRequest, claims: JwtClaims): StoredLogin | null | Promise<StoredLogin | null> {
    if (logins === undefined) {
      // The access token may outlive its login (`jwt.expiresIn` past `logins.maxAge`): the login's end decides.
      if (now() >= claims[LOGIN_EXPIRES_KEY] * 1000) return null
      tokenState(request).claims = claims
      contextOf(request).login = { backend: 'jwt', handle: '', record: untrackedRecord(claims) }
      return loginOf(claims)
    }
    // A token made while no login store kept JWT logins names none: it cannot be ended, so it is not taken.
    const sid = claims.sid
    if (sid === undefined) return null
    const checkRecord = (record: LoginRecord | null): StoredLogin | null => {
      if (record === null || record.backend !== 'jwt' || record.userId !== claims[USER_ID_KEY] || !logins.isLive(record)) return null
      tokenState(request).claims = claims
      contextOf(request).login = { backend: 'jwt', handle: sid, record }
      return loginOf(claims)
    }
    const answer = logins.read(sid)
    return answer instanceof Promise ? answer.then(checkRecord) : checkRecord(answer)
  }

  /** Without a promise unless an `isRevoked` hook or the login store has to be asked. */
  function read (request: FastifyRequest): StoredLogin | null | Promise<StoredLogin | null> {
    const known = peekContext(request)?.token
    if (known !== undefined) return loginOf(known.claims)
    tokenState(request)
    const token = tokenOf(request)
    const claims = token === undefined ? null : verify(request, token)
    if (claims === null) return null
    if (isRevoked === undefined) return accept(request, claims)
    return isStillValid(isRevoked, claims).then(valid => valid ? accept(request, claims) : null)
  }

  /**
   * Keeps the login (new, moved to a new sid, or a refresh family rotated in place) and issues its tokens. A token that
   * continues a login is first put to `isRevoked`: a refresh or a renewal is refused wherever its token would be.
   */
  async function open (request: FastifyRequest, plan: LoginPlan): Promise<{ token: string } | 'lost' | 'revoked'> {
    const { continues, rotation } = plan
    let { record } = plan
    let sid: string | undefined
    let refreshToken: string | undefined
    if (logins === undefined) {
      // A token that stands alone: nothing is kept.
    } else if (rotation !== undefined) {
      sid = (continues as NonNullable<typeof continues>).handle
      refreshToken = rotation.refreshToken
    } else {
      sid = randomBytes(16).toString('base64url')
      if (refresh !== undefined) {
        // A renewal moves the record to a new sid: the refresh token of the old one dies with it.
        const issued = issuer.refreshToken(sid, logins.now())
        record = { ...record, ...issued.fields, refreshSpent: [] }
        refreshToken = issued.token
      }
    }
    const { token, claims } = issuer.accessToken(record, sid)
    if (continues !== undefined && isRevoked !== undefined && !await isStillValid(isRevoked, claims)) return 'revoked'
    if (logins !== undefined && sid !== undefined) {
      if (rotation !== undefined) {
        if (!await logins.rotate(sid, rotation.expected, record)) return 'lost'
      } else {
        const previous = continues?.backend === 'jwt' && continues.handle !== '' ? continues : undefined
        if (previous === undefined) await logins.open(sid, record)
        else if (!await logins.renew(previous, sid, record)) return 'lost'
      }
    }
    const state = tokenState(request)
    state.claims = claims
    state.remember = record.remember
    const login = { backend: 'jwt' as const, handle: sid ?? '', record: sid === undefined ? untrackedRecord(claims) : record }
    if (sid !== undefined && rotation === undefined) state.made = login
    contextOf(request).login = login
    if (cookie !== undefined) state.cookie = token
    if (refreshToken !== undefined) {
      state.issued = { accessToken: token, refreshToken }
      if (refreshCookie !== undefined) state.refreshCookie = refreshToken
    }
    return { token }
  }

  return {
    name: 'jwt',
    carries,
    carriesHeader,
    carriesCookie: (request) => !carriesHeader(request) && cookieToken(request) !== undefined,
    read,
    open,
    keptLogins: logins,
    refreshLogins: refresh === undefined ? undefined : logins,
    issueRefreshToken: issuer.refreshToken,

    issuedTokens (request) {
      return peekContext(request)?.token?.issued ?? null
    },

    refreshCookieOf (request) {
      if (refreshCookie === undefined) return undefined
      const token = request.cookies?.[refreshCookie.name]
      // A sibling subdomain can set a second cookie of this name for the refresh path, which the browser may send
      // first: with two, neither is known to be this browser's own.
      return token !== undefined && cookiesNamed(String(request.headers.cookie), refreshCookie.name) > 1 ? null : token
    },

    dropRefreshCookie (request) {
      if (refreshCookie !== undefined) tokenState(request).refreshCookie = null
    },

    async logout (request) {
      // Only verified claims are revoked: a forged token must not get someone else's jti revoked.
      if (peekContext(request)?.token === undefined) await read(request)
      const state = tokenState(request)
      // The browser sends the refresh cookie to the refresh route only, but takes its removal from any response.
      if (refreshCookie !== undefined && (state.claims !== null || state.refreshCookie !== undefined)) state.refreshCookie = null
      const context = contextOf(request)
      const login = context.login
      if (logins !== undefined && login?.backend === 'jwt' && login.handle !== '') await logins.end(login, request)
      if (login?.backend === 'jwt') context.login = undefined
      if (state.claims !== null && revoke !== undefined) await callHook('revoke', revoke, state.claims)
      state.claims = null
      if (cookie !== undefined && (state.cookie !== undefined || cookieToken(request) !== undefined)) state.cookie = null
    },

    logins: () => logins,

    async abandon (request) {
      // The token cookie of a login made is not sent, and its record is ended; a logout's clearing still is sent.
      const state = peekContext(request)?.token
      if (state === undefined) return
      if (typeof state.cookie === 'string') state.cookie = undefined
      const made = state.made
      if (made === undefined || logins === undefined) return
      state.made = undefined
      try {
        await logins.end(made, request)
      } catch (err) {
        request.log.error({ err }, 'fastify-auth-helpers: could not end the record of a failed token login')
      }
    },

    storedUserId (request) {
      return peekContext(request)?.token?.claims?.[USER_ID_KEY] ?? null
    },

    challenge (request) {
      return carries(request) ? INVALID_TOKEN_CHALLENGE : CHALLENGE
    }
  }
}
