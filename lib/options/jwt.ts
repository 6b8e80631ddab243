import { createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto'
import type { CookieSerializeOptions } from '@fastify/cookie'
import type { JwtClaims, RefreshReuseEvent } from '../../types/index'
import { cacheSize, checkFunction, checkObject, fail, isKeyText, isObject, timeout } from './check'

export const JWT_ALGORITHMS = Object.freeze([
  'HS256', 'HS384', 'HS512', 'RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'
] as const)
export type JwtAlgorithm = typeof JWT_ALGORITHMS[number]

export type JwtKeyMaterial = string | Buffer | { private?: string | Buffer, public: string | Buffer }

/** One key that verifies tokens; the first of `ResolvedJwtOptions.keys` also signs them. */
export interface JwtKey {
  /** The `kid` this key answers to; undefined for tokens without one. */
  kid: string | undefined
  algorithm: JwtAlgorithm
  secret: JwtKeyMaterial
}

export interface CookieSpec {
  name: string
  options: CookieSerializeOptions
}

export interface ResolvedRefreshOptions {
  /** How long one refresh token may go unused (ms), within its login's lifetime. */
  maxAge: number
  cookie: CookieSpec | undefined
  onReuse: ((event: RefreshReuseEvent) => unknown) | undefined
}

export interface ResolvedJwtOptions {
  keys: [JwtKey, ...JwtKey[]]
  /** Token lifetime in seconds. */
  expiresIn: number
  cookie: CookieSpec | undefined
  revoke: ((claims: JwtClaims) => unknown) | undefined
  isRevoked: ((claims: JwtClaims) => unknown) | undefined
  storeTimeout: number
  cacheSize: number
  refresh: ResolvedRefreshOptions | undefined
}

const JWT_OPTIONS = ['secret', 'algorithm', 'expiresIn', 'kid', 'previousKeys', 'cookie', 'revoke', 'isRevoked', 'storeTimeout', 'cacheSize', 'refresh']
const COOKIE_OPTIONS = ['name', 'domain', 'httpOnly', 'maxAge', 'partitioned', 'path', 'priority', 'sameSite', 'secure']
const DURATION = /^(\d+)(s|m|h|d)$/
const SECONDS_PER_UNIT: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86400 }
// RFC 6265's cookie-name token.
const COOKIE_NAME = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/
// The name and value are the plugin's; a fixed expiry would outlive or cut short the token the cookie carries.
const REFUSED_COOKIE_OPTIONS: Record<string, string> = {
  signed: 'the token is signed already',
  encode: 'the token is cookie-safe as it is, and the plugin reads it back undecoded',
  expires: 'the cookie lives as long as its token (`maxAge` defaults to `jwt.expiresIn`)'
}
const BASE64_TEXT = /^[A-Za-z0-9+/=_\-\s]+$/
const CURVES: Partial<Record<JwtAlgorithm, string>> = { ES256: 'prime256v1', ES384: 'secp384r1', ES512: 'secp521r1' }
/** The key types node reads for each family of algorithms (by the algorithm's first two letters). */
const KEY_TYPES: Record<string, readonly string[]> = { RS: ['rsa'], PS: ['rsa'], ES: ['ec'], Ed: ['ed25519', 'ed448'] }

/** `15m`-style durations or whole seconds, as seconds. */
function seconds (value: unknown, name: string): number {
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

/**
 * Whether an HMAC secret is in fact a key. The PEM armour counts wherever it starts: fast-jwt's own check, anchored at
 * the start, was fooled by whitespace (CVE-2026-34950) and by any character in front (GHSA-ww5h-9m49-7xx4). DER bytes,
 * a PEM's bare base64 body and a JWK count too.
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

/** Whether node reads the key as one that `algorithm` signs with: the type, and for ES* the curve. */
function suits (key: KeyObject, algorithm: JwtAlgorithm): boolean {
  const types = KEY_TYPES[algorithm.slice(0, 2)] as readonly string[]
  return types.includes(key.asymmetricKeyType as string) && (types[0] !== 'ec' || key.asymmetricKeyDetails?.namedCurve === CURVES[algorithm])
}

function readKey (read: () => KeyObject, algorithm: JwtAlgorithm, name: string): KeyObject {
  let key: KeyObject
  try {
    key = read()
  } catch (err) {
    return fail(`\`${name}\` does not suit the algorithm ${algorithm}: ${(err as Error).message}`)
  }
  if (!suits(key, algorithm)) fail(`\`${name}\` does not suit the algorithm ${algorithm}: its key type is ${key.asymmetricKeyType as string}`)
  return key
}

/** An HMAC secret of 32+ bytes (shorter ones fall to brute force from one token), else PEM keys that suit the algorithm. */
function checkKey (secret: unknown, algorithm: JwtAlgorithm, name: string, signs: boolean): JwtKeyMaterial {
  if (algorithm.startsWith('HS')) {
    if (!isKeyText(secret)) fail(`\`${name}\` must be a string or Buffer for ${algorithm}`)
    if (secret.length < 32) fail(`\`${name}\` must be at least 32 characters long`)
    // fast-jwt takes any key as an HMAC secret once the algorithm is HS*, and a public key is public.
    const kind = keyKind(secret)
    if (kind !== undefined) fail(`\`${name}\` is a ${kind} key, not a secret: for a key pair, pass \`{ private, public }\` and its algorithm`)
    return secret
  }
  if (!isObject(secret)) fail(`\`${name}\` must be \`{ private, public }\` PEM keys for ${algorithm}`)
  if (!isKeyText(secret.public)) fail(`\`${name}.public\` must be a PEM public key (string or Buffer)`)
  const publicKey = readKey(() => createPublicKey(secret.public as string | Buffer), algorithm, name)
  if (!signs) return { public: secret.public }
  if (!isKeyText(secret.private)) fail(`\`${name}.private\` must be a PEM private key (string or Buffer)`)
  const privateKey = readKey(() => createPrivateKey(secret.private as string | Buffer), algorithm, name)
  const spki = (key: KeyObject): Buffer => (key.type === 'private' ? createPublicKey(key) : key).export({ format: 'der', type: 'spki' })
  if (!spki(privateKey).equals(spki(publicKey))) fail(`\`${name}.private\` and \`${name}.public\` are not a key pair`)
  return { private: secret.private, public: secret.public }
}

function checkKid (value: unknown, name: string): string | undefined {
  if (value !== undefined && !(typeof value === 'string' && value.length > 0 && value.length <= 256)) {
    fail(`\`${name}\` must be a non-empty string (at most 256 characters)`)
  }
  return value
}

function resolveKeys (jwt: Record<string, unknown>): [JwtKey, ...JwtKey[]] {
  if (jwt.algorithm === undefined && isObject(jwt.secret)) {
    fail('`jwt.algorithm` is required with a key pair: one of ' + JWT_ALGORITHMS.filter(a => !a.startsWith('HS')).join(', '))
  }
  const algorithm = checkAlgorithm(jwt.algorithm ?? 'HS256', 'jwt.algorithm')
  if (jwt.secret === undefined) {
    fail('`jwt.secret` is required: a string of 32+ characters, or `{ private, public }` PEM keys with `jwt.algorithm`')
  }
  const keys: [JwtKey, ...JwtKey[]] = [{ kid: checkKid(jwt.kid, 'jwt.kid'), algorithm, secret: checkKey(jwt.secret, algorithm, 'jwt.secret', true) }]
  const previousKeys = jwt.previousKeys ?? []
  if (!Array.isArray(previousKeys)) fail('`jwt.previousKeys` must be an array of `{ kid, secret, algorithm }`')
  previousKeys.forEach((previous: unknown, index) => {
    const name = `jwt.previousKeys[${index}]`
    const given = checkObject(previous, name, ['kid', 'secret', 'algorithm'], 'an object `{ kid, secret, algorithm }`')
    const previousAlgorithm = checkAlgorithm(given.algorithm ?? algorithm, `${name}.algorithm`)
    keys.push({ kid: checkKid(given.kid, `${name}.kid`), algorithm: previousAlgorithm, secret: checkKey(given.secret, previousAlgorithm, `${name}.secret`, false) })
  })
  // A token names its key by `kid`: two keys with one name would make the choice ambiguous.
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

/** `taken`: the names of the plugin's other cookies; `sessionCookie`, the session's, which `jwt.cookie` may not take. */
function cookieSpec (value: unknown, name: string, known: readonly string[], taken: Array<string | undefined>, sessionCookie?: string): { name: string, options: Record<string, unknown> } {
  if (!isObject(value)) fail(`\`${name}\` must be an object \`{ name, ...cookie options }\``)
  for (const [option, reason] of Object.entries(REFUSED_COOKIE_OPTIONS)) {
    if (value[option] !== undefined) fail(`\`${name}.${option}\` is not supported: ${reason}`)
  }
  const { name: cookieName, ...options } = checkObject(value, name, known)
  if (typeof cookieName !== 'string' || !COOKIE_NAME.test(cookieName)) fail(`\`${name}.name\` must be a valid cookie name`)
  if (cookieName === sessionCookie) fail(`\`${name}.name\` "${cookieName}" is the session cookie's name: pick another`)
  if (taken.includes(cookieName)) fail(`\`${name}.name\` "${cookieName}" is the name of another of the plugin's cookies: pick another`)
  return { name: cookieName, options }
}

/**
 * The refresh cookie carries a credential that outlives every access token and goes only to the refresh route: always
 * HttpOnly and SameSite=Strict, Secure unless the app turns that off for plain-http development.
 */
function resolveRefreshCookie (value: unknown, taken: Array<string | undefined>): CookieSpec | undefined {
  if (value === undefined) return undefined
  const { name, options } = cookieSpec(value, 'jwt.refresh.cookie', COOKIE_OPTIONS, taken)
  const { path } = options
  if (typeof path !== 'string' || !path.startsWith('/')) {
    fail('`jwt.refresh.cookie.path` is required: the path of the refresh route (e.g. "/auth/refresh"), so the cookie goes nowhere else')
  }
  if (options.httpOnly === false) fail('`jwt.refresh.cookie.httpOnly` cannot be false: page scripts must never read a refresh token')
  if (options.sameSite !== undefined && options.sameSite !== 'strict' && options.sameSite !== true) {
    fail('`jwt.refresh.cookie.sameSite` is always "strict": the refresh cookie is never sent from another site')
  }
  if (options.maxAge !== undefined) fail('`jwt.refresh.cookie.maxAge` is not supported: the cookie lives as long as its token (`jwt.refresh.expiresIn`)')
  return { name, options: { secure: true, ...options, httpOnly: true, sameSite: 'strict', path } }
}

function resolveRefresh (value: unknown, taken: Array<string | undefined>): ResolvedRefreshOptions | undefined {
  if (value === undefined || value === false) return undefined
  const refresh = checkObject(value === true ? {} : value, 'jwt.refresh', ['expiresIn', 'cookie', 'onReuse'], 'true or an object `{ expiresIn, cookie, onReuse }`')
  return {
    maxAge: seconds(refresh.expiresIn ?? '14d', 'jwt.refresh.expiresIn') * 1000,
    cookie: resolveRefreshCookie(refresh.cookie, taken),
    onReuse: checkFunction(refresh.onReuse, 'jwt.refresh.onReuse')
  }
}

/** @param sessionCookie the session cookie's name when there is a session, which no token cookie may take. */
export function resolveJwtOptions (value: unknown, sessionCookie: string | undefined): ResolvedJwtOptions {
  const jwt = checkObject(value, 'jwt', JWT_OPTIONS, 'an object of JWT options')
  const revoke = checkFunction<ResolvedJwtOptions['revoke']>(jwt.revoke, 'jwt.revoke')
  const isRevoked = checkFunction<ResolvedJwtOptions['isRevoked']>(jwt.isRevoked, 'jwt.isRevoked')
  // A revoke() that nothing checks would make logout look final when it is not.
  if (revoke !== undefined && isRevoked === undefined) fail('`jwt.revoke` needs `jwt.isRevoked` to check it')
  const expiresIn = seconds(jwt.expiresIn ?? '15m', 'jwt.expiresIn')
  let cookie: CookieSpec | undefined
  if (jwt.cookie !== undefined) {
    const spec = cookieSpec(jwt.cookie, 'jwt.cookie', COOKIE_OPTIONS, [], sessionCookie)
    cookie = { name: spec.name, options: { httpOnly: true, sameSite: 'lax', secure: true, path: '/', ...spec.options } }
  }
  return {
    keys: resolveKeys(jwt),
    expiresIn,
    cookie,
    refresh: resolveRefresh(jwt.refresh, [sessionCookie, cookie?.name]),
    revoke,
    isRevoked,
    storeTimeout: timeout(jwt.storeTimeout, 'jwt.storeTimeout'),
    cacheSize: cacheSize(jwt.cacheSize, 'jwt.cacheSize', 1000)
  }
}
