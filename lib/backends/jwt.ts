import { randomBytes } from 'node:crypto'
import fastifyCookie from '@fastify/cookie'
import fastifyJwt, { type JWT } from '@fastify/jwt'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AUTH_HASH_KEY, BACKEND_KEY, USER_ID_KEY } from '../constants'
import { InvalidOptionError, RevocationFailedError, UnauthorizedError } from '../errors'
import type { JwtClaims, JwtKey, ResolvedJwtOptions } from '../options'
import { withTimeout } from '../store'
import { currentLogin, setCurrentLogin, type Logins } from '../logins'
import type { LoginRecord } from '../login-store'
import { isPromiseLike, isValidUserId, type Backend, type LoginPlan, type StoredLogin } from './backend'
import { InvalidRefreshTokenError } from '../errors'
import { newRefreshToken, parseRefreshToken, SPENT_KEPT, type RefreshedTokens, type RefreshingBackend, type UserCheck } from '../refresh'
import { recordKey } from '../logins'
import { sameAuthHash } from '../auth'
import type { User } from '../options'

/** What one request's token proved, and what the response must do with the token cookie. */
interface TokenState {
  /** The verified claims of the request's token, or of the token login issued; null when there is no login. */
  claims: JwtClaims | null
  /** The token cookie to send: a token to set, null to clear it, undefined to leave it alone. */
  cookie: string | null | undefined
  /** The `remember` of the login made on this request: false sends the cookie without Max-Age. */
  remember?: boolean | null
  /** The kept login made on this request, to end if the response is a 5xx. */
  made?: { handle: string, record: LoginRecord }
  /** The refresh token cookie to send, as `cookie` is for the access token. */
  refreshCookie?: string | null
  /** The pair that login() or refresh() issued on this request, for `request.issuedTokens()`. */
  issued?: RefreshedTokens
}

const kToken = Symbol('fastify-auth-helpers.jwt')
type TokenRequest = FastifyRequest & { [kToken]: TokenState | null }

interface VerifyingKey {
  kid: string | undefined
  jwt: JWT
  /** For ECDSA keys, the curve whose signatures must have a low s (see lowS). */
  curve: Curve | undefined
}

interface Curve {
  /** The group order n. */
  order: bigint
  /** The length in bytes of each of r and s in a JOSE signature (RFC 7518 section 3.4). */
  size: number
}

/** The curves of ES256, ES384 and ES512 (P-256, P-384, P-521: SEC 2, section 2.4). */
const CURVES: Partial<Record<string, Curve>> = {
  ES256: { order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, size: 32 },
  ES384: { order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n, size: 48 },
  ES512: { order: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n, size: 66 }
}

/**
 * An ECDSA signature (r, s) verifies as (r, n - s) too, so every ES* token has a second spelling that anyone can
 * make from it (the README promises one spelling per token: a token is its own identity in logs, caches and
 * deny-lists). Only the low one, s <= n / 2, is accepted (as Bitcoin's BIP 62 does), and login issues only that one.
 * The signature segment is canonical base64url here already (isCanonicalBase64url). Returns the token in its low-s
 * spelling, or null when its signature is not two integers of the curve's size.
 */
function lowS (token: string, curve: Curve): { token: string, wasLow: boolean } | null {
  const dot = token.lastIndexOf('.')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  if (signature.length !== 2 * curve.size) return null
  const s = BigInt(`0x${signature.subarray(curve.size).toString('hex')}`)
  if (s <= curve.order / 2n) return { token, wasLow: true }
  const low = Buffer.from((curve.order - s).toString(16).padStart(2 * curve.size, '0'), 'hex')
  return { token: `${token.slice(0, dot + 1)}${Buffer.concat([signature.subarray(0, curve.size), low]).toString('base64url')}`, wasLow: false }
}

interface CompleteToken {
  header: { kid?: unknown }
  payload: Record<string, unknown>
}

// RFC 6750 section 2.1: the scheme is case-insensitive, and the token is one word.
const BEARER = /^bearer /i
const BEARER_TOKEN = /^bearer +(\S+) *$/i
const BASE64URL = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
const CHALLENGE = 'Bearer'
const INVALID_TOKEN_CHALLENGE = 'Bearer error="invalid_token"'

// Each registration of the plugin gets its own @fastify/jwt namespaces, so that two registrations under one app
// that registered @fastify/jwt itself (where the namespaces land on the app's `fastify.jwt`) do not collide.
let registrations = 0

/**
 * fast-jwt compares signatures after base64-decoding them, and the low bits of a segment's last character decode to
 * nothing: one signature has up to four spellings. Only the canonical one is accepted, so that a token differing from
 * an issued one in any character never authenticates.
 */
function isCanonicalBase64url (segment: string): boolean {
  const spareBits = (segment.length * 6) % 8
  if (spareBits === 0) return true
  // A length of 4n + 1 leaves a character that encodes no byte at all.
  if (spareBits === 6) return false
  return (BASE64URL.indexOf(segment.charAt(segment.length - 1)) & ((1 << spareBits) - 1)) === 0
}

/** The `kid` of a token's header, read only to pick the key; the signature check that follows decides. */
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
  const jti = payload.jti
  const sid = payload.sid
  if (payload[BACKEND_KEY] !== 'jwt' || !isValidUserId(userId) || typeof authHash !== 'string' ||
      typeof jti !== 'string' || jti.length === 0 || (sid !== undefined && !(typeof sid === 'string' && sid.length > 0))) {
    return null
  }
  // fast-jwt has checked `iat` and `exp`: both are required, and both are numbers when present.
  return Object.freeze({
    [USER_ID_KEY]: userId,
    [BACKEND_KEY]: 'jwt',
    [AUTH_HASH_KEY]: authHash,
    jti,
    ...(sid === undefined ? {} : { sid }),
    iat: payload.iat as number,
    exp: payload.exp as number
  })
}

/**
 * A token login that no store keeps (no login store): what the token itself says, so that `requireRecentLogin`
 * reads the same times from every login. Its handle is empty: nothing can be updated or ended in a store.
 */
function untrackedRecord (claims: JwtClaims): LoginRecord {
  const issued = claims.iat * 1000
  return {
    id: claims.jti,
    userId: claims[USER_ID_KEY],
    authHash: claims[AUTH_HASH_KEY],
    backend: 'jwt',
    createdAt: issued,
    authenticatedAt: issued,
    seenAt: issued,
    expiresAt: claims.exp * 1000,
    remember: null,
    userAgent: null,
    ip: null
  }
}

function loginOf (claims: JwtClaims | null): StoredLogin | null {
  return claims === null ? null : { userId: claims[USER_ID_KEY], authHash: claims[AUTH_HASH_KEY] }
}

/**
 * Registers one @fastify/jwt per key, in a context of their own: their decorators (`fastify.jwt`, the request's
 * `decoratorName`, `jwtVerify`, `jwtSign`) stay out of the app's scope, so the app can register @fastify/jwt for its
 * own tokens, and `request.user` stays the user this plugin resolves.
 */
async function registerKeys (fastify: FastifyInstance, options: ResolvedJwtOptions): Promise<JWT[]> {
  const id = ++registrations
  const jwts: JWT[] = []
  await fastify.register(async function fastifyAuthHelpersJwt (child) {
    for (const [index, key] of options.keys.entries()) {
      const namespace = `fastifyAuthHelpers${id}_${index}`
      try {
        await child.register(fastifyJwt, {
          namespace,
          decoratorName: `${namespace}Payload`,
          secret: key.secret,
          // iat and exp are set by the backend itself; see login.
          sign: { algorithm: key.algorithm, kid: key.kid },
          verify: {
            // Only this key's algorithm: `alg: none`, HMAC signed with a public key, and any other swap fail here.
            algorithms: [key.algorithm],
            // fast-jwt takes a token without `exp` as never expiring, unless told otherwise.
            requiredClaims: ['exp', 'iat'],
            // Shortening `jwt.expiresIn` shortens the tokens already out there too.
            maxAge: options.expiresIn,
            complete: true,
            // Safe: the cache only saves the signature and expiry checks; revocation and the auth hash are checked
            // after it, on every request.
            cache: options.cacheSize
          }
        })
      } catch (err) {
        throw new InvalidOptionError(`\`${key.option}\` does not suit the algorithm ${key.algorithm}: ${(err as Error).message}`)
      }
      jwts.push((child.jwt as unknown as Record<string, JWT>)[namespace] as JWT)
    }
  })
  return jwts
}

/** A token the signing key just made must pass its own verification, or the private and public keys do not match. */
function checkKeyPair (signer: JWT, key: JwtKey): void {
  const iat = Math.floor(Date.now() / 1000)
  try {
    signer.verify(signer.sign({ iat, exp: iat + 60 }))
  } catch {
    throw new InvalidOptionError(`\`${key.option}.private\` and \`${key.option}.public\` are not a key pair`)
  }
}

/** The JWT backend, which a request can carry two ways: lib/index.ts orders them apart from each other. */
export interface JwtBackend extends Backend {
  /** Whether the request has a Bearer Authorization header. */
  carriesHeader (request: FastifyRequest): boolean
  /** Whether the request has a token cookie and no Bearer Authorization header (the header's token comes first). */
  carriesCookie (request: FastifyRequest): boolean
}

/**
 * @param logins where JWT logins are kept, when the plugin has a login store that can list and end them: each token
 * then carries its login's handle as `sid`, and a token whose login has ended stops authenticating at once (one
 * record read per request, like the session backend's). Without one, tokens stand alone until `exp`, as before.
 */
export async function createJwtBackend (fastify: FastifyInstance, options: ResolvedJwtOptions, logins?: Logins): Promise<JwtBackend & Partial<RefreshingBackend> & { issuedTokens: (request: FastifyRequest) => RefreshedTokens | null }> {
  const { cookie, revoke, isRevoked, storeTimeout, expiresIn, refresh: refreshOptions } = options
  // A refresh token is a one-time credential spent by compare-and-swap on its login's record: without a login store
  // that can swap, neither one-time use nor ending the family is possible, so it fails here rather than quietly.
  if (refreshOptions !== undefined && (logins === undefined || typeof logins.store.swap !== 'function')) {
    throw new InvalidOptionError('`jwt.refresh` needs `loginStore`, a login store with `swap`: createRedisLoginStore(client) ' +
      'for several instances, or createMemoryLoginStore() for one process (docs/refresh-tokens.md)')
  }
  const jwts = await registerKeys(fastify, options)
  const signer = jwts[0] as JWT
  checkKeyPair(signer, options.keys[0])
  const keys: VerifyingKey[] = jwts.map((jwt, index) => {
    const key = options.keys[index] as JwtKey
    return { kid: key.kid, jwt, curve: CURVES[key.algorithm] }
  })
  const signingCurve = CURVES[options.keys[0].algorithm]
  const onlyKey = keys.length === 1 ? keys[0] : undefined
  const keysByKid = new Map<unknown, VerifyingKey>(keys.map(key => [key.kid, key]))

  fastify.decorateRequest(kToken, null)
  if (cookie !== undefined) {
    if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
    const setOptions = { maxAge: expiresIn, ...cookie.options }
    // `remember: false`: a cookie the browser drops when it closes; the token still ends at its `exp`.
    const { maxAge: _maxAge, ...browserSessionOptions } = setOptions
    // A cookie option the cookie library refuses would otherwise fail the first login's response, not registration.
    try {
      fastify.serializeCookie(cookie.name, 'token', setOptions as Parameters<FastifyInstance['serializeCookie']>[2])
    } catch (err) {
      throw new InvalidOptionError(`\`jwt.cookie\`: ${(err as Error).message}`)
    }
    // login and logout only see the request; the response's cookie is written here, on its way out (after `abandon`,
    // which withholds the token of a request that ends in a 5xx).
    fastify.addHook('onSend', function writeTokenCookie (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction) {
      const token = (request as TokenRequest)[kToken]
      const pending = token?.cookie
      if (pending === null) reply.clearCookie(cookie.name, cookie.options)
      else if (pending !== undefined) reply.setCookie(cookie.name, pending, token?.remember === false ? browserSessionOptions : setOptions)
      done()
    })
  }

  const refreshCookie = refreshOptions?.cookie
  if (refreshCookie !== undefined) {
    if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
    const persistent = { ...refreshCookie.options, maxAge: Math.floor((refreshOptions as { maxAge: number }).maxAge / 1000) }
    fastify.addHook('onSend', function writeRefreshCookie (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction) {
      const token = (request as TokenRequest)[kToken]
      const pending = token?.refreshCookie
      if (pending === null) reply.clearCookie(refreshCookie.name, refreshCookie.options)
      else if (pending !== undefined && reply.statusCode < 500) reply.setCookie(refreshCookie.name, pending, token?.remember === false ? refreshCookie.options : persistent)
      done()
    })
  }

  function cookieToken (request: FastifyRequest): string | undefined {
    return cookie === undefined ? undefined : request.cookies?.[cookie.name] || undefined
  }

  /** The request's token: the Authorization header's when it names the Bearer scheme, else the cookie's. */
  function tokenOf (request: FastifyRequest): string | undefined {
    const authorization = request.headers.authorization
    if (typeof authorization === 'string' && BEARER.test(authorization)) return BEARER_TOKEN.exec(authorization)?.[1]
    return cookieToken(request)
  }

  /** The claims of a token this backend issued and still accepts, or null. Never throws on a bad token. */
  function verify (request: FastifyRequest, token: string): JwtClaims | null {
    try {
      if (!isCanonicalBase64url(token.slice(token.lastIndexOf('.') + 1))) return null
      const key = onlyKey ?? keysByKid.get(headerKid(token))
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

  /** Calls an app's revocation hook; a failure, a hang or a wrong answer fails the request (fail closed). */
  async function callHook (name: 'revoke' | 'isRevoked', hook: (claims: JwtClaims) => unknown, claims: JwtClaims): Promise<unknown> {
    try {
      const result = hook(claims)
      return isPromiseLike(result) ? await withTimeout(Promise.resolve(result), storeTimeout, `jwt.${name}`) : result
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

  function stateOf (request: FastifyRequest): TokenState {
    return ((request as TokenRequest)[kToken] ??= { claims: null, cookie: undefined })
  }

  /** The token's login, if its record (when logins are kept) still says it is live. */
  function accept (request: FastifyRequest, state: TokenState, claims: JwtClaims): StoredLogin | null | Promise<StoredLogin | null> {
    if (logins === undefined) {
      state.claims = claims
      setCurrentLogin(request, { backend: 'jwt', handle: '', record: untrackedRecord(claims) })
      return loginOf(claims)
    }
    // A token made while no login store kept JWT logins names none: it cannot be ended, so it is not taken.
    const sid = claims.sid
    if (sid === undefined) return null
    const checkRecord = (record: LoginRecord | null): StoredLogin | null => {
      if (record === null || record.backend !== 'jwt' || record.userId !== claims[USER_ID_KEY] || !logins.isLive(record)) return null
      state.claims = claims
      setCurrentLogin(request, { backend: 'jwt', handle: sid, record })
      return loginOf(claims)
    }
    const answer = logins.read(sid)
    return answer instanceof Promise ? answer.then(checkRecord) : checkRecord(answer)
  }

  /** Without a promise unless an `isRevoked` hook or the login store has to be asked (see Backend.read). */
  function read (request: FastifyRequest): StoredLogin | null | Promise<StoredLogin | null> {
    const known = (request as TokenRequest)[kToken]
    if (known !== null) return loginOf(known.claims)
    const state = stateOf(request)
    const token = tokenOf(request)
    const claims = token === undefined ? null : verify(request, token)
    if (claims === null) return null
    if (isRevoked === undefined) return accept(request, state, claims)
    return isStillValid(isRevoked, claims).then(valid => valid ? accept(request, state, claims) : null)
  }

  function carriesHeader (request: FastifyRequest): boolean {
    const authorization = request.headers.authorization
    return typeof authorization === 'string' && BEARER.test(authorization)
  }

  function carries (request: FastifyRequest): boolean {
    return carriesHeader(request) || cookieToken(request) !== undefined
  }

  /** A new access token of the login under `sid`: the same login (sid), a new jti. */
  function accessToken (record: LoginRecord, sid: string): { token: string, claims: JwtClaims } {
    const iat = Math.floor(Date.now() / 1000)
    const claims: JwtClaims = Object.freeze({
      [USER_ID_KEY]: record.userId,
      [BACKEND_KEY]: 'jwt',
      [AUTH_HASH_KEY]: record.authHash,
      jti: randomBytes(16).toString('base64url'),
      sid,
      iat,
      exp: iat + expiresIn
    })
    return { token: signer.sign(claims), claims }
  }

  /**
   * The refresh itself (lib/refresh.ts says why it is built this way). Two login store round trips when it succeeds:
   * the read, and the swap that spends the token. Nothing is written before the swap, so a store failure (503)
   * spends nothing.
   */
  function refresher (refresh: NonNullable<ResolvedJwtOptions['refresh']>, logins: Logins): RefreshingBackend['refresh'] {
    const swap = (logins.store.swap as NonNullable<typeof logins.store.swap>).bind(logins.store)
    return async function refreshLogin (request, given, checkUser: UserCheck, onReuse) {
      const state = stateOf(request)
      const fromCookie = given === undefined && refresh.cookie !== undefined
      const presented = fromCookie ? request.cookies?.[(refresh.cookie as { name: string }).name] : given
      const refuse = (): never => {
        // A cookie that did not work is dropped, so the browser stops sending it.
        if (fromCookie && presented !== undefined) state.refreshCookie = null
        throw new InvalidRefreshTokenError()
      }
      const parsed = parseRefreshToken(presented)
      if (parsed === null) return refuse()
      const { sid, hash } = parsed
      const found = await logins.read(sid)
      if (found === null || found.backend !== 'jwt' || typeof found.refreshHash !== 'string') return refuse()
      const record = found
      const ended = async (): Promise<never> => {
        await logins.end({ handle: sid, record })
        return refuse()
      }
      const reused = async (): Promise<never> => {
        await logins.end({ handle: sid, record })
        await onReuse(record)
        return refuse()
      }
      // A store of the app's may drop an empty list: no spent hashes yet.
      const spent = Array.isArray(record.refreshSpent) ? record.refreshSpent : []
      if (!sameAuthHash(record.refreshHash, hash)) {
        if (spent.includes(hash)) return await reused()
        return refuse()
      }
      const now = logins.now()
      if (!logins.isLive(record, now) || !(now < (record.refreshExpiresAt as number))) return refuse()
      const user: User | null = await checkUser(record)
      // The user is gone, inactive, or changed their password: the login is over, as on any other request.
      if (user === null) return await ended()
      const next = newRefreshToken(sid, refresh.maxAge, now)
      const fields: Partial<LoginRecord> = {
        ...next.fields,
        refreshSpent: [hash, ...spent].slice(0, SPENT_KEPT),
        seenAt: now
      }
      const updated = { ...record, ...fields }
      // Lost to another refresh with this token (the swap finds another hash) or to the login's end (no record):
      // either way this token has been used twice.
      if (!await swap(recordKey(sid), 'refreshHash', hash, fields, logins.expiryOf(updated))) return await reused()
      const { token, claims } = accessToken(updated, sid)
      state.claims = claims
      state.remember = updated.remember
      setCurrentLogin(request, { backend: 'jwt', handle: sid, record: updated })
      if (cookie !== undefined) state.cookie = token
      if (refresh.cookie !== undefined) state.refreshCookie = next.token
      const tokens = { accessToken: token, refreshToken: next.token }
      state.issued = tokens
      return { tokens, user }
    }
  }

  return {
    name: 'jwt',
    carries,
    carriesHeader,
    carriesCookie: (request) => !carriesHeader(request) && cookieToken(request) !== undefined,

    read,

    async login (request, plan: LoginPlan) {
      const { renewing } = plan
      let { record } = plan
      const iat = Math.floor(Date.now() / 1000)
      const jti = randomBytes(16).toString('base64url')
      let sid: string | undefined
      let refreshToken: string | undefined
      if (logins !== undefined) {
        sid = randomBytes(16).toString('base64url')
        if (refreshOptions !== undefined) {
          const issued = newRefreshToken(sid, refreshOptions.maxAge, logins.now())
          refreshToken = issued.token
          // A renewal moves the record to the new sid: the refresh token of the old one dies with it.
          record = { ...record, ...issued.fields, refreshSpent: [] }
        }
        const previous = renewing?.backend === 'jwt' && renewing.handle !== '' ? renewing : undefined
        if (previous === undefined) {
          await logins.open(sid, record)
        } else if (!await logins.renew(previous, sid, record)) {
          throw new UnauthorizedError()
        }
      }
      const claims: JwtClaims = Object.freeze({
        [USER_ID_KEY]: record.userId,
        [BACKEND_KEY]: 'jwt',
        [AUTH_HASH_KEY]: record.authHash,
        jti,
        ...(sid === undefined ? {} : { sid }),
        iat,
        exp: iat + expiresIn
      })
      const signed = signer.sign(claims)
      const token = signingCurve === undefined ? signed : (lowS(signed, signingCurve) as { token: string }).token
      const state = stateOf(request)
      state.claims = claims
      state.remember = record.remember
      if (sid !== undefined) state.made = { handle: sid, record }
      setCurrentLogin(request, { backend: 'jwt', handle: sid ?? '', record: sid === undefined ? untrackedRecord(claims) : record })
      if (cookie !== undefined) state.cookie = token
      if (refreshToken !== undefined) {
        state.issued = { accessToken: token, refreshToken }
        if (refreshCookie !== undefined) state.refreshCookie = refreshToken
      }
      return token
    },

    issuedTokens (request) {
      return (request as TokenRequest)[kToken]?.issued ?? null
    },

    ...(refreshOptions === undefined || logins === undefined ? {} : { refresh: refresher(refreshOptions, logins) }),

    async logout (request) {
      // Only verified claims are revoked: a forged token must not get someone else's jti revoked.
      if ((request as TokenRequest)[kToken] === null) await read(request)
      const state = stateOf(request)
      // The browser sends the refresh cookie to the refresh route only, but takes its removal from any response.
      if (refreshCookie !== undefined && (state.claims !== null || state.refreshCookie !== undefined)) state.refreshCookie = null
      const login = currentLogin(request)
      if (logins !== undefined && login?.backend === 'jwt' && login.handle !== '') await logins.end(login)
      if (login?.backend === 'jwt') setCurrentLogin(request, undefined)
      if (state.claims !== null && revoke !== undefined) await callHook('revoke', revoke, state.claims)
      state.claims = null
      if (cookie !== undefined && (state.cookie !== undefined || cookieToken(request) !== undefined)) state.cookie = null
    },

    logins: () => logins,

    async abandon (request) {
      // A token login made: its cookie is not sent, and its record (when logins are kept) is ended, so it is neither
      // usable nor listed. A logout's clearing of the cookie still is sent.
      const state = (request as TokenRequest)[kToken]
      if (typeof state?.cookie === 'string') state.cookie = undefined
      const made = state?.made
      if (state == null || made === undefined || logins === undefined) return
      state.made = undefined
      try {
        await logins.end(made)
      } catch (err) {
        request.log.error({ err }, 'fastify-auth-helpers: could not end the record of a failed token login')
      }
    },

    storedUserId (request) {
      return (request as TokenRequest)[kToken]?.claims?.[USER_ID_KEY] ?? null
    },

    challenge (request) {
      return carries(request) ? INVALID_TOKEN_CHALLENGE : CHALLENGE
    }
  }
}
