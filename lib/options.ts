import { createPublicKey } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { CookieSerializeOptions } from '@fastify/cookie'
import { InvalidOptionError } from './errors'
import { DEFAULT_AUTH_BACKEND, isSupportedBackend, type BackendName } from './constants'
import { ARGON2_DEFAULTS } from './password'

import { CAPABILITIES, type LoginStore } from './login-store'
import type { LifetimeOptions, LoginEndedEvent } from './logins'
import type { HashOptions, JwtClaims, LoginFailureReason, UserId, UserStore as PublicUserStore } from '../types/index'

export type { HashOptions, JwtClaims, LoginFailureReason, UserId }
/** Inside the plugin a user is any object: the app's own type lives in its declaration merge. */
export type User = object
export type UserStore = PublicUserStore<User>

export interface RawOptions {
  users?: UserStore
  defaultBackend?: unknown
  getUserId?: (user: User) => unknown
  getPasswordHash?: (user: User) => unknown
  isActive?: (user: User) => boolean
  session?: Record<string, unknown> & { secret?: unknown, storeTimeout?: number, cacheSize?: number, cookieName?: string }
  jwt?: Record<string, unknown>
  authHashSecret?: string | Buffer
  hashOptions?: HashOptions
  maxPasswordLength?: number
  maxUsernameLength?: number
  maxQueuedHashes?: number
  rotateOnLogin?: unknown
  loginStore?: unknown
  logins?: unknown
  now?: unknown
  onLogin?: (event: { request: FastifyRequest, user: User, backend: BackendName }) => unknown
  onLogout?: (event: { request: FastifyRequest, userId: UserId | null, backend: BackendName }) => unknown
  onLoginFailed?: (event: { request: FastifyRequest, username: string | null, reason: LoginFailureReason }) => unknown
  onLoginEnded?: (event: LoginEndedEvent) => unknown
}

/** Every option with its default applied, read once at registration. */
export interface ResolvedOptions {
  users: UserStore
  defaultBackend: BackendName
  getUserId: (user: User) => unknown
  getPasswordHash: (user: User) => unknown
  isActive: (user: User) => boolean
  session: RawOptions['session']
  jwt: ResolvedJwtOptions | undefined
  authHashSecret: string | Buffer | undefined
  hashOptions: HashOptions
  maxPasswordLength: number
  maxUsernameLength: number
  maxQueuedHashes: number
  rotateOnLogin: readonly string[]
  storeTimeout: number
  /** Session cookie signatures remembered by the signer the plugin gives @fastify/session (lib/signer.ts). */
  sessionCacheSize: number
  /** The app's own login store, or undefined for the default (lib/login-store.ts). */
  loginStore: LoginStore | undefined
  lifetime: Omit<LifetimeOptions, 'now'>
  /** The clock every login time is read from. */
  now: () => number
  onLogin: RawOptions['onLogin']
  onLogout: RawOptions['onLogout']
  onLoginFailed: RawOptions['onLoginFailed']
  onLoginEnded: RawOptions['onLoginEnded']
}

const defaultGetUserId = (user: User): unknown => (user as { id?: unknown }).id
const defaultGetPasswordHash = (user: User): unknown => (user as { password?: unknown }).password
/** The spellings of true that database drivers hand back for a boolean column (PostgreSQL's text 't', Oracle's 'Y'). */
const TRUE_TEXT = new Set(['1', 't', 'true', 'y', 'yes'])

/**
 * The default `isActive`: a user without the field is active (a store with no such notion); a user with it is active
 * only when it reads as true. Drivers return a false boolean column as 0 (mysql2, SQLite), 0n (better-sqlite3 with
 * safe integers), a zero byte (MySQL's BIT(1)), 'f' or '0' (text protocols) or null (a NULL column): `!== false`
 * let each of those through, and so does any falsiness rule for the last four. Unknown values fail closed: a
 * deactivated user who keeps their login is worse than an active one who cannot log in, which is seen at once.
 */
export function defaultIsActive (user: User): boolean {
  const value = (user as { isActive?: unknown }).isActive
  switch (typeof value) {
    case 'undefined': return true
    case 'boolean': return value
    case 'number': return value !== 0 && !Number.isNaN(value)
    case 'bigint': return value !== 0n
    case 'string': return TRUE_TEXT.has(value.trim().toLowerCase())
    default: return value instanceof Uint8Array && value.length === 1 && value[0] !== 0
  }
}

function fail (message: string): never {
  throw new InvalidOptionError(message)
}

function checkFunction (value: unknown, name: string, required = false): void {
  if (value === undefined && !required) return
  if (typeof value !== 'function') fail(`\`${name}\` must be a function`)
}

function checkPositiveInteger (value: unknown, name: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) > 0)) {
    fail(`\`${name}\` must be a positive integer`)
  }
}

function checkCacheSize (value: unknown, name: string): void {
  if (value !== undefined && !(Number.isSafeInteger(value) && (value as number) >= 0)) {
    fail(`\`${name}\` must be a whole number, 0 to turn the cache off`)
  }
}

/** The longest a Node timer waits: a longer delay runs after 1 ms, and every store call would time out at once. */
const MAX_TIMEOUT = 2 ** 31 - 1

function checkTimeout (value: unknown, name: string): void {
  checkPositiveInteger(value, name)
  if ((value as number) > MAX_TIMEOUT) fail(`\`${name}\` must be at most ${MAX_TIMEOUT} ms (about 24.8 days)`)
}

/**
 * The session secret when it can key the auth hash. An array is a rotation in progress: keying with any one of its
 * secrets would end every login when that secret is rotated out, so an array needs an explicit `authHashSecret`.
 */
function sessionSecret (session: RawOptions['session']): string | undefined {
  const secret = session?.secret
  if (Array.isArray(secret) && secret.length > 1) {
    fail('`session.secret` is an array (a rotation): also pass `authHashSecret` (32+ characters), which keys the ' +
      'password-derived auth hash, so that rotating the session secret does not end every login')
  }
  return typeof secret === 'string' ? secret : undefined
}

/**
 * How many argon2 calls may wait for a slot before more are refused with FST_AUTH_BUSY (503). A verify with argon2's
 * default parameters takes 50 to 100 ms on one lane of an idle machine, so the last of 100 waits 5 to 10 s: about as
 * long as anyone watches a login form spin, and inside the 30 to 60 s after which proxies give up. A longer queue
 * would spend argon2 time on clients that have already gone, and hold each one's request and body meanwhile. More
 * lanes (cores / parallelism) divide the wait; a loaded machine multiplies it (300 ms a verify on the 2-core test
 * machine while other work ran), and such a machine wants a lower bound.
 */
const DEFAULT_MAX_QUEUED_HASHES = 100

const HASH_OPTION_NAMES = ['memoryCost', 'timeCost', 'parallelism'] as const

const DAY = 24 * 60 * 60 * 1000
/**
 * Login lifetimes (README, "Login lifetime"): two weeks for a login, as Django's SESSION_COOKIE_AGE; 12 hours for
 * one made with `remember: false`, a working day, since browsers that restore their tabs keep "session" cookies
 * for ever; no idle timeout unless asked (OWASP suggests 15 to 30 minutes for sensitive apps, which would log out
 * most users of an ordinary one); `seenAt` written at most once a minute, as Lucia throttles it.
 */
export const DEFAULT_LIFETIME = Object.freeze({
  maxAge: 14 * DAY,
  browserSessionMaxAge: DAY / 2,
  idleTimeout: 0,
  touchInterval: 60_000
})

const LIFETIME_NAMES = Object.keys(DEFAULT_LIFETIME) as Array<keyof typeof DEFAULT_LIFETIME>

function resolveLifetime (logins: unknown): Omit<LifetimeOptions, 'now'> {
  if (logins === undefined) return { ...DEFAULT_LIFETIME }
  if (logins === null || typeof logins !== 'object' || Array.isArray(logins)) fail('`logins` must be an object of login lifetimes')
  const given = logins as Record<string, unknown>
  for (const key of Object.keys(given)) {
    if (!(LIFETIME_NAMES as string[]).includes(key)) fail(`\`logins.${key}\` is not an option: only ${LIFETIME_NAMES.join(', ')}`)
  }
  const lifetime: Record<keyof typeof DEFAULT_LIFETIME, number> = { ...DEFAULT_LIFETIME }
  for (const name of LIFETIME_NAMES) {
    const value = given[name]
    if (value === undefined) continue
    const allowsZero = name === 'idleTimeout'
    if (!Number.isSafeInteger(value) || (value as number) < (allowsZero ? 0 : 1)) {
      fail(`\`logins.${name}\` must be a ${allowsZero ? 'whole' : 'positive whole'} number of milliseconds${allowsZero ? ' (0: off)' : ''}`)
    }
    lifetime[name] = value as number
  }
  if (given.browserSessionMaxAge === undefined) {
    lifetime.browserSessionMaxAge = Math.min(lifetime.browserSessionMaxAge, lifetime.maxAge)
  } else if (lifetime.browserSessionMaxAge > lifetime.maxAge) {
    fail('`logins.browserSessionMaxAge` must not exceed `logins.maxAge`')
  }
  // `seenAt` is written at most once per touchInterval, so a shorter idle timeout would end logins in use.
  if (lifetime.idleTimeout > 0 && lifetime.idleTimeout < 2 * lifetime.touchInterval) {
    fail('`logins.idleTimeout` must be at least twice `logins.touchInterval` (default 60000 ms), or 0 for none')
  }
  return lifetime
}

function resolveLoginStore (store: unknown): LoginStore | undefined {
  if (store === undefined) return undefined
  if (store === null || typeof store !== 'object') fail('`loginStore` must be a login store object (README, "Login stores")')
  for (const name of ['get', 'create', 'delete', ...CAPABILITIES]) {
    if (typeof (store as Record<string, unknown>)[name] !== 'function') {
      fail(`\`loginStore.${name}\` must be a function: a login store implements get, create, delete, ${CAPABILITIES.join(', ')}`)
    }
  }
  return store as LoginStore
}

/**
 * OWASP's Password Storage Cheat Sheet lists five argon2id configurations of equal strength, trading memory (KiB)
 * for passes: m=47104 t=1, m=19456 t=2, m=12288 t=3, m=9216 t=4, m=7168 t=5, all with p=1. The floor is that table
 * read as a rule: for the configured passes, at least the memory OWASP pairs with them (more passes than five still
 * need 7168 KiB). Parallelism does not lower the floor: lanes split the memory, they do not add to it, and an
 * attacker's cost per guess is the memory and passes whatever the lanes.
 */
const OWASP_ARGON2ID_FLOOR: ReadonlyArray<readonly [timeCost: number, memoryCost: number]> = [
  [1, 47104], [2, 19456], [3, 12288], [4, 9216], [5, 7168]
]

function checkHashFloor (hashOptions: HashOptions): void {
  const memoryCost = hashOptions.memoryCost ?? ARGON2_DEFAULTS.memoryCost
  const timeCost = hashOptions.timeCost ?? ARGON2_DEFAULTS.timeCost
  const [, floor] = OWASP_ARGON2ID_FLOOR[Math.min(timeCost, OWASP_ARGON2ID_FLOOR.length) - 1] as readonly [number, number]
  if (memoryCost < floor) {
    fail(`\`hashOptions\` (memoryCost ${memoryCost} KiB, timeCost ${timeCost}) is below the argon2id minimum of OWASP's ` +
      `Password Storage Cheat Sheet: with timeCost ${timeCost}, memoryCost must be at least ${floor} KiB (its table: ` +
      `${OWASP_ARGON2ID_FLOOR.map(([t, m]) => `m=${m} t=${t}`).join(', ')}; p=1)`)
  }
}

export function resolveOptions (options: RawOptions): ResolvedOptions {
  const { users } = options
  if (users === null || typeof users !== 'object') fail('the `users` option (your user store) is required')
  checkFunction(users.findByUsername, 'users.findByUsername', true)
  checkFunction(users.findById, 'users.findById', true)
  checkFunction(users.updatePasswordHash, 'users.updatePasswordHash')
  for (const name of ['getUserId', 'getPasswordHash', 'isActive', 'now', 'onLogin', 'onLogout', 'onLoginFailed', 'onLoginEnded'] as const) {
    checkFunction(options[name], name)
  }

  const defaultBackend = options.defaultBackend ?? DEFAULT_AUTH_BACKEND
  if (!isSupportedBackend(defaultBackend)) {
    fail(`\`defaultBackend\` must be "session" or "jwt", got ${JSON.stringify(defaultBackend)}`)
  }
  if (defaultBackend === 'jwt' && options.jwt == null) fail('`defaultBackend: "jwt"` needs the `jwt` option')

  const { session } = options
  if (session !== undefined) {
    if (session === null || typeof session !== 'object') fail('`session` must be an object of @fastify/session options')
    // A rotation's secrets all verify cookies, so each is held to the string's minimum.
    const secrets = Array.isArray(session.secret) ? session.secret as unknown[] : [session.secret]
    if (secrets.length === 0) fail('`session.secret` is an empty array: give it at least one secret')
    if (secrets.some(secret => (typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length < 32)) {
      fail('`session.secret` must be at least 32 characters long (each of them, in a rotation)')
    }
    checkTimeout(session.storeTimeout, 'session.storeTimeout')
    checkCacheSize(session.cacheSize, 'session.cacheSize')
  }
  const jwt = options.jwt === undefined ? undefined : resolveJwtOptions(options.jwt, session)

  const authHashSecret = options.authHashSecret ?? sessionSecret(session) ?? jwtHashSecret(jwt)
  if (authHashSecret !== undefined) {
    if (!(typeof authHashSecret === 'string' || Buffer.isBuffer(authHashSecret)) || authHashSecret.length < 32) {
      fail('`authHashSecret` must be a string or Buffer of at least 32 characters')
    }
  }

  const hashOptions = options.hashOptions ?? {}
  if (hashOptions === null || typeof hashOptions !== 'object') fail('`hashOptions` must be an object')
  // The rest of argon2's options would be handed to it as they are: a fixed `salt`, a short `hashLength`, a `secret`
  // that verify() is never given, `raw` output.
  for (const key of Object.keys(hashOptions)) {
    if (!(HASH_OPTION_NAMES as readonly string[]).includes(key)) fail(`\`hashOptions.${key}\` is not an option: only memoryCost, timeCost and parallelism`)
  }
  for (const key of HASH_OPTION_NAMES) checkPositiveInteger(hashOptions[key], `hashOptions.${key}`)
  checkHashFloor(hashOptions)
  checkPositiveInteger(options.maxPasswordLength, 'maxPasswordLength')
  checkPositiveInteger(options.maxUsernameLength, 'maxUsernameLength')
  checkPositiveInteger(options.maxQueuedHashes, 'maxQueuedHashes')
  const rotateOnLogin = options.rotateOnLogin ?? ['_csrf']
  if (!Array.isArray(rotateOnLogin) || !rotateOnLogin.every(key => typeof key === 'string')) {
    fail('`rotateOnLogin` must be an array of session key names')
  }

  return {
    users,
    defaultBackend,
    getUserId: options.getUserId ?? defaultGetUserId,
    getPasswordHash: options.getPasswordHash ?? defaultGetPasswordHash,
    isActive: options.isActive ?? defaultIsActive,
    session,
    jwt,
    authHashSecret,
    hashOptions: { ...hashOptions },
    maxPasswordLength: options.maxPasswordLength ?? 4096,
    maxUsernameLength: options.maxUsernameLength ?? 512,
    maxQueuedHashes: options.maxQueuedHashes ?? DEFAULT_MAX_QUEUED_HASHES,
    rotateOnLogin: [...rotateOnLogin],
    storeTimeout: session?.storeTimeout ?? 5000,
    sessionCacheSize: session?.cacheSize ?? 10_000,
    loginStore: resolveLoginStore(options.loginStore),
    lifetime: resolveLifetime(options.logins),
    now: (options.now as (() => number) | undefined) ?? Date.now,
    onLogin: options.onLogin,
    onLogout: options.onLogout,
    onLoginFailed: options.onLoginFailed,
    onLoginEnded: options.onLoginEnded
  }
}

export const JWT_ALGORITHMS = Object.freeze([
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
] as const)
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number]

export type JwtKeyMaterial = string | Buffer | { private?: string | Buffer, public: string | Buffer }

/** One key that verifies tokens; the first of `ResolvedJwtOptions.keys` also signs them. */
export interface JwtKey {
  /** The token header's `kid` this key answers to; undefined for tokens without one. */
  kid: string | undefined
  algorithm: JwtAlgorithm
  secret: JwtKeyMaterial
  /** The option this key came from, for error messages. */
  option: string
}

export interface ResolvedJwtOptions {
  keys: [JwtKey, ...JwtKey[]]
  /** Token lifetime in seconds. */
  expiresIn: number
  cookie: { name: string, options: CookieSerializeOptions } | undefined
  revoke: ((claims: JwtClaims) => unknown) | undefined
  isRevoked: ((claims: JwtClaims) => unknown) | undefined
  storeTimeout: number
  cacheSize: number
  /** Refresh tokens (lib/refresh.ts), when `jwt.refresh` is given. */
  refresh: ResolvedRefreshOptions | undefined
}

export interface ResolvedRefreshOptions {
  /** How long one refresh token may go unused before it stops working (ms), within its login's lifetime. */
  maxAge: number
  /** The refresh token cookie: HttpOnly and SameSite=Strict always, scoped to the refresh route's `path`. */
  cookie: { name: string, options: CookieSerializeOptions } | undefined
  onReuse: ((event: { request: unknown, userId: UserId, loginId: string }) => unknown) | undefined
}

const JWT_OPTION_NAMES = new Set([
  'secret', 'algorithm', 'expiresIn', 'kid', 'previousKeys', 'cookie', 'revoke', 'isRevoked', 'storeTimeout', 'cacheSize',
  'refresh'
])
const REFRESH_OPTION_NAMES = new Set(['expiresIn', 'cookie', 'onReuse'])
const DURATION = /^(\d+)(s|m|h|d)$/
const SECONDS_PER_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }
// RFC 6265's cookie-name token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// A token's name and value are ours; a fixed expiry date would outlive or cut short the token it carries.
const REFUSED_COOKIE_OPTIONS: Record<string, string> = {
  signed: 'the token is signed already',
  encode: 'the token is cookie-safe as it is, and the plugin reads it back undecoded',
  expires: 'the cookie lives as long as its token (`maxAge` defaults to `jwt.expiresIn`)'
}

function isKeyText (value: unknown): value is string | Buffer {
  return (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0
}

function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** `15m`-style durations or whole seconds, as a number of seconds. */
function seconds (value: unknown, name = 'jwt.expiresIn'): number {
  if (Number.isSafeInteger(value) && (value as number) > 0) return value as number
  const match = typeof value === 'string' ? DURATION.exec(value) : null
  const total = match === null ? 0 : Number(match[1]) * (SECONDS_PER_UNIT[match[2] as string] as number)
  if (!(Number.isSafeInteger(total) && total > 0)) {
    fail(`\`${name}\` must be a positive whole number of seconds or a duration like "15m", "12h" or "7d"`)
  }
  return total
}

function checkAlgorithm (value: unknown, name: string): JwtAlgorithm {
  if (!(JWT_ALGORITHMS as readonly unknown[]).includes(value)) {
    fail(`\`${name}\` must be one of ${JWT_ALGORITHMS.join(', ')}, got ${JSON.stringify(value)}`)
  }
  return value as JwtAlgorithm
}

const BASE64_TEXT = /^[A-Za-z0-9+/=_\-\s]+$/

/**
 * Whether an HMAC secret is in fact a key, and in which form. The PEM armour counts wherever it is: fast-jwt's own
 * check, anchored at the start, was fooled by whitespace (CVE-2026-34950) and then by a zero-width or any other
 * character in front (GHSA-ww5h-9m49-7xx4). Keys without armour count too: DER bytes, the base64 body of a PEM (as
 * environment variables often hold it), and a JWK.
 */
function keyKind (secret: string | Buffer): 'PEM' | 'DER' | 'JWK' | undefined {
  const text = secret.toString()
  if (text.includes('-----BEGIN ')) return 'PEM'
  const der = Buffer.isBuffer(secret) ? [secret] : []
  if (BASE64_TEXT.test(text)) der.push(Buffer.from(text.replace(/\s/g, ''), 'base64'))
  for (const bytes of der) {
    for (const type of ['spki', 'pkcs1'] as const) {
      try {
        createPublicKey({ key: bytes, format: 'der', type })
        return 'DER'
      } catch {}
    }
  }
  try {
    const jwk: unknown = JSON.parse(text)
    if (isObject(jwk) && typeof jwk.kty === 'string') return 'JWK'
  } catch {}
  return undefined
}

/**
 * The key material for `algorithm`: a secret of 32+ bytes for HMAC (shorter ones can be brute-forced from a single
 * token), PEM keys for the others. A key that only verifies (`needsPrivate` false) needs no private key.
 */
function checkKey (secret: unknown, algorithm: JwtAlgorithm, name: string, needsPrivate: boolean): JwtKeyMaterial {
  if (algorithm.startsWith('HS')) {
    if (!isKeyText(secret)) fail(`\`${name}\` must be a string or Buffer for ${algorithm}`)
    if (secret.length < 32) fail(`\`${name}\` must be at least 32 characters long`)
    // fast-jwt takes any key as an HMAC secret once the algorithm is pinned to HS*. A public key is public.
    const kind = keyKind(secret)
    if (kind !== undefined) {
      fail(`\`${name}\` is a ${kind} key, not a secret: for a key pair, pass \`{ private, public }\` and its algorithm`)
    }
    return secret
  }
  if (!isObject(secret)) fail(`\`${name}\` must be \`{ private, public }\` PEM keys for ${algorithm}`)
  if (!isKeyText(secret.public)) fail(`\`${name}.public\` must be a PEM public key (string or Buffer)`)
  if (needsPrivate && !isKeyText(secret.private)) fail(`\`${name}.private\` must be a PEM private key (string or Buffer)`)
  return needsPrivate ? { private: secret.private as string | Buffer, public: secret.public } : { public: secret.public }
}

function checkKid (value: unknown, name: string): string | undefined {
  if (value !== undefined && !(typeof value === 'string' && value.length > 0 && value.length <= 256)) {
    fail(`\`${name}\` must be a non-empty string (at most 256 characters)`)
  }
  return value
}

function resolveJwtKeys (jwt: Record<string, unknown>): [JwtKey, ...JwtKey[]] {
  const defaultAlgorithm = isObject(jwt.secret) ? undefined : 'HS256'
  if (jwt.algorithm === undefined && defaultAlgorithm === undefined) {
    fail('`jwt.algorithm` is required with a key pair: one of ' + JWT_ALGORITHMS.filter(a => !a.startsWith('HS')).join(', '))
  }
  const algorithm = checkAlgorithm(jwt.algorithm ?? defaultAlgorithm, 'jwt.algorithm')
  if (jwt.secret === undefined) {
    fail('`jwt.secret` is required: a string of 32+ characters, or `{ private, public }` PEM keys with `jwt.algorithm`')
  }
  const keys: [JwtKey, ...JwtKey[]] = [{
    kid: checkKid(jwt.kid, 'jwt.kid'),
    algorithm,
    secret: checkKey(jwt.secret, algorithm, 'jwt.secret', true),
    option: 'jwt.secret'
  }]

  const previousKeys = jwt.previousKeys ?? []
  if (!Array.isArray(previousKeys)) fail('`jwt.previousKeys` must be an array of `{ kid, secret, algorithm }`')
  previousKeys.forEach((previous: unknown, index) => {
    const name = `jwt.previousKeys[${index}]`
    if (!isObject(previous)) fail(`\`${name}\` must be an object \`{ kid, secret, algorithm }\``)
    const previousAlgorithm = checkAlgorithm(previous.algorithm ?? algorithm, `${name}.algorithm`)
    keys.push({
      kid: checkKid(previous.kid, `${name}.kid`),
      algorithm: previousAlgorithm,
      secret: checkKey(previous.secret, previousAlgorithm, `${name}.secret`, false),
      option: `${name}.secret`
    })
  })
  // A token names its key by `kid`; two keys with one name would make the choice ambiguous.
  const kids = new Set<string | undefined>()
  for (const key of keys) {
    if (kids.has(key.kid)) {
      fail(`${key.kid === undefined ? 'two JWT keys have no kid' : `two JWT keys have the kid "${key.kid}"`}: ` +
        'with `jwt.previousKeys`, each key needs its own `kid` (at most one may have none)')
    }
    kids.add(key.kid)
  }
  return keys
}

function resolveJwtCookie (cookie: unknown, session: RawOptions['session']): ResolvedJwtOptions['cookie'] {
  if (cookie === undefined) return undefined
  if (!isObject(cookie)) fail('`jwt.cookie` must be an object `{ name, ...cookie options }`')
  const { name, ...options } = cookie
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) fail('`jwt.cookie.name` must be a valid cookie name')
  if (session !== undefined && name === (session.cookieName ?? 'sessionId')) {
    fail(`\`jwt.cookie.name\` "${name}" is the session cookie's name: pick another`)
  }
  for (const [option, reason] of Object.entries(REFUSED_COOKIE_OPTIONS)) {
    if (options[option] !== undefined) fail(`\`jwt.cookie.${option}\` is not supported: ${reason}`)
  }
  return { name, options: { httpOnly: true, sameSite: 'lax', secure: true, path: '/', ...options } }
}

/**
 * The refresh cookie carries a credential that outlives every access token, and is sent only to the refresh route:
 * it is always HttpOnly and SameSite=Strict (a cross-site page can neither read it nor make the browser send it),
 * Secure unless the app turns that off for plain-http development, and needs the route's `path`.
 */
function resolveRefreshCookie (cookie: unknown, names: Array<string | undefined>): ResolvedRefreshOptions['cookie'] {
  if (cookie === undefined) return undefined
  if (!isObject(cookie)) fail('`jwt.refresh.cookie` must be an object `{ name, path, ...cookie options }`')
  const { name, path, ...options } = cookie
  if (typeof name !== 'string' || !COOKIE_NAME.test(name)) fail('`jwt.refresh.cookie.name` must be a valid cookie name')
  if (names.includes(name)) fail(`\`jwt.refresh.cookie.name\` "${name}" is the name of another of the plugin's cookies: pick another`)
  if (typeof path !== 'string' || !path.startsWith('/')) {
    fail('`jwt.refresh.cookie.path` is required: the path of the refresh route (e.g. "/auth/refresh"), so the cookie goes nowhere else')
  }
  for (const [option, reason] of Object.entries(REFUSED_COOKIE_OPTIONS)) {
    if (options[option] !== undefined) fail(`\`jwt.refresh.cookie.${option}\` is not supported: ${reason}`)
  }
  if (options.httpOnly === false) fail('`jwt.refresh.cookie.httpOnly` cannot be false: page scripts must never read a refresh token')
  if (options.sameSite !== undefined && options.sameSite !== 'strict' && options.sameSite !== true) {
    fail('`jwt.refresh.cookie.sameSite` is always "strict": the refresh cookie is never sent from another site')
  }
  if (options.maxAge !== undefined) fail('`jwt.refresh.cookie.maxAge` is not supported: the cookie lives as long as its token (`jwt.refresh.expiresIn`)')
  return { name, options: { secure: true, ...options, httpOnly: true, sameSite: 'strict', path } }
}

function resolveRefresh (refresh: unknown, names: Array<string | undefined>): ResolvedRefreshOptions | undefined {
  if (refresh === undefined || refresh === false) return undefined
  if (refresh === true) refresh = {}
  if (!isObject(refresh)) fail('`jwt.refresh` must be true or an object `{ expiresIn, cookie, onReuse }`')
  for (const name of Object.keys(refresh)) {
    if (!REFRESH_OPTION_NAMES.has(name)) fail(`\`jwt.refresh.${name}\` is not an option; see docs/refresh-tokens.md`)
  }
  checkFunction(refresh.onReuse, 'jwt.refresh.onReuse')
  return {
    maxAge: seconds(refresh.expiresIn ?? '14d', 'jwt.refresh.expiresIn') * 1000,
    cookie: resolveRefreshCookie(refresh.cookie, names),
    onReuse: refresh.onReuse as ResolvedRefreshOptions['onReuse']
  }
}

export function resolveJwtOptions (jwt: unknown, session: RawOptions['session']): ResolvedJwtOptions {
  if (!isObject(jwt)) fail('`jwt` must be an object of JWT options')
  for (const name of Object.keys(jwt)) {
    if (!JWT_OPTION_NAMES.has(name)) fail(`\`jwt.${name}\` is not an option; see the README's JWT backend section`)
  }
  checkFunction(jwt.revoke, 'jwt.revoke')
  checkFunction(jwt.isRevoked, 'jwt.isRevoked')
  // A revoke() that nothing checks would make logout look final when it is not.
  if (jwt.revoke !== undefined && jwt.isRevoked === undefined) fail('`jwt.revoke` needs `jwt.isRevoked` to check it')
  checkTimeout(jwt.storeTimeout, 'jwt.storeTimeout')
  checkCacheSize(jwt.cacheSize, 'jwt.cacheSize')
  const cookie = resolveJwtCookie(jwt.cookie, session)
  return {
    keys: resolveJwtKeys(jwt),
    expiresIn: seconds(jwt.expiresIn ?? '15m'),
    cookie,
    refresh: resolveRefresh(jwt.refresh, [cookie?.name, session === undefined ? undefined : (session.cookieName as string | undefined) ?? 'sessionId']),
    revoke: jwt.revoke as ResolvedJwtOptions['revoke'],
    isRevoked: jwt.isRevoked as ResolvedJwtOptions['isRevoked'],
    storeTimeout: (jwt.storeTimeout as number | undefined) ?? 5000,
    cacheSize: (jwt.cacheSize as number | undefined) ?? 1000
  }
}

/**
 * The JWT secret keys the auth hash when nothing else does. Not with `previousKeys`: rotating `jwt.secret` would then
 * change every auth hash and end every token, the old key's included, which is what the old key is kept to avoid.
 */
function jwtHashSecret (jwt: ResolvedJwtOptions | undefined): string | Buffer | undefined {
  if (jwt === undefined) return undefined
  const secret = jwt.keys[0].secret
  if (!isKeyText(secret)) return undefined
  if (jwt.keys.length > 1) {
    fail('`jwt.previousKeys` needs `authHashSecret` (or a string `session.secret`): keyed by `jwt.secret`, ' +
      'the auth hash would change with it and end the old key\'s tokens anyway')
  }
  return secret
}
