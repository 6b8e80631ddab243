import type { FastifyPluginAsync, FastifyRequest, preHandlerAsyncHookHandler } from 'fastify'
import type { FastifySessionOptions } from '@fastify/session'
import type { CookieSerializeOptions } from '@fastify/cookie'
import type { FastifyError } from '@fastify/error'
import '@fastify/jwt'

declare module 'fastify' {
  interface FastifyInstance {
    setDefaultAuthBackend (backend: fastifyAuthHelpers.BackendName): void
    hashPassword (plain: string): Promise<string>
    requireUser: preHandlerAsyncHookHandler
    /** A user's live logins, newest first (an admin page; `request.listLogins()` for the current user). */
    listLogins (userId: fastifyAuthHelpers.UserId): Promise<fastifyAuthHelpers.LoginInfo[]>
    /** "Sign out everywhere": ends every login of the user; resolves to how many were live. */
    endLogins (userId: fastifyAuthHelpers.UserId): Promise<number>
    /** A preHandler: 401 FST_AUTH_REAUTHENTICATION_REQUIRED unless the login proved its password within `maxAgeMs`. */
    requireRecentLogin (maxAgeMs: number): preHandlerAsyncHookHandler
    /** Hashes and stores a new password (`users.updatePasswordHash`), which ends every login of the user. */
    setPassword (user: fastifyAuthHelpers.AuthUser, newPassword: string): Promise<void>
    /** Resolves when `password` would be accepted as a new password, else rejects with 400 FST_AUTH_INVALID_PASSWORD. */
    checkNewPassword (password: string, user?: fastifyAuthHelpers.AuthUser | null): Promise<void>
    /** A signed, URL-safe token for an email link, bound to the purpose, the user and their password. */
    createUserToken (user: fastifyAuthHelpers.AuthUser, options: fastifyAuthHelpers.UserTokenOptions): string
    /** The user the token was made for, looked up again; else rejects with 400 FST_AUTH_INVALID_TOKEN. */
    verifyUserToken (token: string, options: fastifyAuthHelpers.VerifyUserTokenOptions): Promise<fastifyAuthHelpers.AuthUser>
    /** `verifyUserToken(token, { purpose: 'password-reset' })`, then `setPassword`; resolves to the user. */
    resetPassword (token: string, newPassword: string): Promise<fastifyAuthHelpers.AuthUser>
    /** Looks the user up and calls `send` after the response, for known and unknown usernames alike. */
    requestPasswordReset (username: string, options: fastifyAuthHelpers.PasswordResetRequestOptions): void
  }
  interface FastifyRequest {
    /**
     * The current user, never null: for handlers behind `preHandler: app.requireUser`, where `request.user` is known to
     * be set but typed `| null`. Throws 401 `FST_AUTH_UNAUTHORIZED` when there is none (a route without the preHandler).
     */
    requireUser (): fastifyAuthHelpers.AuthUser
    authenticate (username: string, password: string): Promise<fastifyAuthHelpers.AuthUser>
    login (options: fastifyAuthHelpers.LoginOptions): Promise<string | undefined>
    logout (options?: fastifyAuthHelpers.LogoutOptions): Promise<void>
    getUserId (backend?: fastifyAuthHelpers.BackendName): fastifyAuthHelpers.UserId | null
    /** The current user's live logins, newest first; 401 FST_AUTH_UNAUTHORIZED when anonymous. */
    listLogins (): Promise<fastifyAuthHelpers.LoginInfo[]>
    /** Ends one of the current user's logins; false when `id` names none of them. */
    endLogin (id: string): Promise<boolean>
    /** Ends every login of the current user but this request's; resolves to how many. */
    endOtherLogins (): Promise<number>
    /** Checks the current user's password and marks the login as just authenticated; 401 on a wrong one. */
    reauthenticate (password: string): Promise<void>
    /**
     * Spends a refresh token (`jwt.refresh`): the one given, else the refresh cookie's. Resolves to a new pair of the
     * same login and sets `request.user`; 401 FST_AUTH_INVALID_REFRESH_TOKEN for every refused token.
     */
    refresh (refreshToken?: string): Promise<fastifyAuthHelpers.RefreshedTokens>
    /** The access and refresh token that `login()` or `refresh()` issued on this request (with `jwt.refresh`), else null. */
    issuedTokens (): fastifyAuthHelpers.RefreshedTokens | null
    /**
     * Checks the current password (401 when wrong), stores the new one, ends every other login of the user and
     * renews this one: resolves to the new token on the JWT backend, undefined on the session backend.
     */
    changePassword (currentPassword: string, newPassword: string): Promise<string | undefined>
  }
}

declare module '@fastify/jwt' {
  // @fastify/jwt declares `FastifyRequest.user` as its `UserType`; feeding our user type through its merge
  // interface keeps both declarations identical, so the two plugins type-check together.
  interface FastifyJWT {
    user: fastifyAuthHelpers.AuthUser | null
  }
}

type FastifyAuthHelpersPlugin = FastifyPluginAsync<fastifyAuthHelpers.FastifyAuthHelpersOptions>

declare namespace fastifyAuthHelpers {
  /**
   * Declare your user type once by merging into this interface:
   *
   * ```ts
   * declare module 'fastify-auth-helpers' {
   *   interface FastifyAuthHelpers { user: { id: number, email: string, passwordHash: string } }
   * }
   * ```
   * `request.user` is then `YourUser | null`.
   */
  export interface FastifyAuthHelpers {}

  /** A user with no declared type: an object whose fields are unknown until narrowed. */
  export interface UnknownUser { [key: string]: unknown }

  export type AuthUser = FastifyAuthHelpers extends { user: infer U } ? U : UnknownUser

  /**
   * The user a store given to `register` (or `login({ user })`) may hand back: the declared user, or, before one is
   * declared, any object but a promise (a store that resolves to a promise of a number is no store of users), so that
   * a `UserStore<DbUser>` type-checks either way.
   */
  export type StoreUser = FastifyAuthHelpers extends { user: infer U } ? U : object & { then?: never }

  /** Options typed with no declared user (`UnknownUser`) take a store of any object user; otherwise of that user. */
  type StoreUserFor<User> = [User] extends [UnknownUser] ? ([UnknownUser] extends [User] ? StoreUser : User) : User

  /** A value, or a promise of it: a store over a cache or a Map may answer synchronously. */
  export type MaybePromise<T> = T | PromiseLike<T>

  export type UserId = string | number

  export type BackendName = 'session' | 'jwt'

  export const USER_ID_KEY: '_auth_user_id'
  export const BACKEND_KEY: '_auth_backend'
  export const DEFAULT_AUTH_BACKEND: 'session'
  export const SUPPORTED_BACKENDS: readonly ['session', 'jwt']

  /**
   * Where the plugin finds users. Type it with your user, `UserStore<DbUser>`, and declare that user once in
   * `FastifyAuthHelpers` so that `request.user` has it too. Each method may answer synchronously or with a promise.
   */
  export interface UserStore<User = StoreUser> {
    /** The user with this username, or null/undefined when there is none. */
    findByUsername (username: string): MaybePromise<User | null | undefined>
    /** The user with this id (as `getUserId` gave it at login), or null/undefined when there is none. */
    findById (id: UserId): MaybePromise<User | null | undefined>
    /** Called with a fresh hash when the stored one was made with outdated argon2 parameters. */
    updatePasswordHash? (user: User, hash: string): unknown
  }

  /** argon2id cost parameters; argon2's own defaults (RFC 9106's second recommendation) when left out. */
  export interface HashOptions {
    memoryCost?: number
    timeCost?: number
    parallelism?: number
  }

  export type LoginFailureReason = 'invalid-input' | 'unknown-user' | 'no-password' | 'wrong-password' | 'inactive'

  export interface LoginEvent<User = AuthUser> {
    /** Not enumerable on every event, so logging the event whole never writes the request body (the password). */
    request: FastifyRequest
    user: User
    backend: BackendName
  }

  export interface LogoutEvent {
    request: FastifyRequest
    userId: UserId | null
    backend: BackendName
  }

  /** Why a login ended (docs/logins.md, "Events"). */
  export type LoginEndReason = 'logout' | 'ended' | 'ended-others' | 'ended-all' | 'expired' | 'reused'

  export interface LoginEndedEvent {
    /** The request that ended the login (not enumerable); null for `app.endLogins` and expiries found off a request. */
    request: FastifyRequest | null
    userId: UserId
    /** The login's `LoginInfo.id`. */
    loginId: string
    backend: BackendName
    reason: LoginEndReason
  }

  export interface LoginFailedEvent {
    request: FastifyRequest
    /** The username as given when it was a string, else null (a password confirmed by a logged-in user). Never the password. */
    username: string | null
    /** The id of the account whose password was checked, when there is one: every check names it. */
    userId: UserId | null
    reason: LoginFailureReason
  }

  export interface SessionBackendOptions extends Partial<FastifySessionOptions> {
    /** How long any single store call may take before the request fails with FST_AUTH_STORE_TIMEOUT (ms). */
    storeTimeout?: number
    /**
     * How many session cookies whose signature checked out are remembered, so that their HMAC is not computed again on
     * every request. Default 10000; 0 turns the cache off. Applies when the plugin registers @fastify/session itself.
     */
    cacheSize?: number
  }

  export type JwtHmacAlgorithm = 'HS256' | 'HS384' | 'HS512'
  export type JwtKeyPairAlgorithm =
    | 'RS256' | 'RS384' | 'RS512' | 'PS256' | 'PS384' | 'PS512' | 'ES256' | 'ES384' | 'ES512' | 'EdDSA'
  export type JwtAlgorithm = JwtHmacAlgorithm | JwtKeyPairAlgorithm

  /** PEM keys (strings or Buffers). */
  export interface JwtKeyPair {
    private: string | Buffer
    public: string | Buffer
  }

  /** The claims of a token this plugin issued, as `jwt.revoke` and `jwt.isRevoked` get them (frozen). */
  export interface JwtClaims {
    readonly _auth_user_id: UserId
    readonly _auth_backend: 'jwt'
    /** An HMAC of the user's password hash: a password change ends the token. */
    readonly _auth_user_hash: string
    /** The token's unique id: what a revocation list stores. */
    readonly jti: string
    /** Where the token's login is kept, when a login store keeps JWT logins (never shown by listLogins). */
    readonly sid?: string
    /** When the token's login was made (seconds since the epoch): the same in every token of one login. */
    readonly _auth_login_iat: number
    /** When the token's login ends (seconds): a renewal or a refresh never moves it. */
    readonly _auth_login_exp: number
    /** When the login last proved its user with a password (seconds; OpenID Connect's claim). */
    readonly auth_time: number
    readonly iat: number
    /** Seconds since the epoch: a revocation entry can expire then. */
    readonly exp: number
  }

  /** A key that only verifies tokens issued before a rotation. */
  export type JwtPreviousKey =
    | { kid?: string, secret: string | Buffer, algorithm?: JwtHmacAlgorithm }
    | { kid?: string, secret: { public: string | Buffer }, algorithm: JwtKeyPairAlgorithm }

  /** `@fastify/cookie` options for the token cookie, with its name. */
  export interface JwtCookieOptions extends Omit<CookieSerializeOptions, 'signed' | 'encode' | 'expires'> {
    name: string
  }

  export interface JwtCommonOptions {
    /** Token lifetime: whole seconds, or a duration like '15m', '12h', '7d'. Default '15m'. */
    expiresIn?: number | string
    /** Written to the header of new tokens; with `previousKeys`, the key a token was signed with is found by it. */
    kid?: string
    /** Keys that still verify the tokens they signed, for key rotation. Needs `authHashSecret`. */
    previousKeys?: JwtPreviousKey[]
    /** Also send the token as this cookie on login, read it from there, clear it on logout. */
    cookie?: JwtCookieOptions
    /** Called on logout with the token's claims: record the jti as revoked (until `exp`). Needs `isRevoked`. */
    revoke?: (claims: JwtClaims) => unknown
    /** Called on every request with a valid token: true ends it. A throw, a hang or a non-boolean answers 503. */
    isRevoked?: (claims: JwtClaims) => boolean | Promise<boolean>
    /** How long `revoke` and `isRevoked` may take (ms). Default 5000. */
    storeTimeout?: number
    /** Tokens whose signature check fast-jwt remembers. Default 1000; 0 turns the cache off. */
    cacheSize?: number
    /** Refresh tokens: rotated on every use, reuse ends the login. Needs `loginStore`. `true`: the defaults. */
    refresh?: true | RefreshOptions
  }

  /** `jwt.refresh` (docs/refresh-tokens.md). */
  export interface RefreshOptions {
    /** How long one refresh token may go unused, within its login's lifetime: seconds or '14d'. Default '14d'. */
    expiresIn?: number | string
    /** Also send the refresh token as this HttpOnly, SameSite=Strict cookie, sent only to `path` (the refresh route). */
    cookie?: RefreshCookieOptions
    /** A spent refresh token came back: its login has been ended. Alert on it. */
    onReuse?: (event: RefreshReuseEvent) => unknown
  }

  export interface RefreshCookieOptions extends Omit<CookieSerializeOptions, 'signed' | 'encode' | 'expires' | 'maxAge' | 'httpOnly' | 'sameSite' | 'path'> {
    name: string
    /** The refresh route's path: the browser sends the cookie there and nowhere else. */
    path: string
    httpOnly?: true
    sameSite?: 'strict' | true
  }

  export interface RefreshReuseEvent {
    /** Not enumerable, as on every event. */
    request: FastifyRequest
    userId: UserId
    /** The ended login's `LoginInfo.id`. */
    loginId: string
  }

  export interface RefreshedTokens {
    accessToken: string
    refreshToken: string
  }

  export type JwtBackendOptions = JwtCommonOptions & (
    | { /** An HMAC secret of 32+ characters. */ secret: string | Buffer, algorithm?: JwtHmacAlgorithm }
    | { secret: JwtKeyPair, algorithm: JwtKeyPairAlgorithm }
  )

  export interface FastifyAuthHelpersOptions<User = AuthUser> {
    users: UserStore<StoreUserFor<User>>
    defaultBackend?: BackendName
    /**
     * The user's id as login stores it: a non-empty string (up to 512 characters) or a safe integer. A bigint or a
     * larger number fails the login with 500 `FST_AUTH_INVALID_USER_ID`: return `String(user.id)` for those.
     */
    getUserId?: (user: User) => unknown
    getPasswordHash?: (user: User) => unknown
    /**
     * Whether the user may log in and stay logged in. Default: active without an `isActive` field; with one, only
     * when it reads as true (`true`, a non-zero number or bigint, '1', 't', 'true', 'y', 'yes', a buffer holding 1):
     * 0, '0', 'f', null and any unknown value are inactive.
     */
    isActive?: (user: User) => boolean
    /** @fastify/session options, used when the plugin registers @fastify/session itself. */
    session?: SessionBackendOptions
    /** Enables the jwt backend. */
    jwt?: JwtBackendOptions
    /** Key for the password-derived auth hash; defaults to the session secret, else the JWT's HMAC secret. */
    authHashSecret?: string | Buffer
    /** argon2id costs; below OWASP's table (m=47104 t=1, 19456 t=2, 12288 t=3, 9216 t=4, 7168 t=5+) registration fails. */
    hashOptions?: HashOptions
    /** Passwords longer than this many UTF-8 bytes are refused before hashing. Default 4096. */
    maxPasswordLength?: number
    /** Usernames longer than this many UTF-8 bytes are refused before lookup. Default 512. */
    maxUsernameLength?: number
    /**
     * How many argon2 calls (logins, `hashPassword`, rehashes) may wait for one of the `cores / parallelism` slots.
     * Past it, `authenticate` and `hashPassword` fail at once with 503 `FST_AUTH_BUSY`, whoever the username names.
     * A positive integer. Default 100.
     */
    maxQueuedHashes?: number
    /**
     * Session keys that hold per-session secrets, dropped at login even when the rest of the visitor's session is
     * kept, so that they are made anew. Default `['_csrf']` (@fastify/csrf-protection's secret), as Django's login
     * rotates the CSRF token.
     */
    rotateOnLogin?: string[]
    /**
     * Where logins are kept, for apps with several instances: `createRedisLoginStore(client)`. Default: beside the
     * sessions in @fastify/session's MemoryStore (one process).
     */
    loginStore?: LoginStore
    /** Login lifetimes: absolute, `remember: false`, idle. */
    logins?: LoginLifetimeOptions
    /** The clock every login time is read from (ms since the epoch). Default `Date.now`; tests pass a fake one. */
    now?: () => number
    onLogin?: (event: LoginEvent<User>) => unknown
    onLogout?: (event: LogoutEvent) => unknown
    onLoginFailed?: (event: LoginFailedEvent) => unknown
    /** Each login kept in a login store that ends, once, with the reason; not awaited, its failures logged. */
    onLoginEnded?: (event: LoginEndedEvent) => unknown
    passwordPolicy?: PasswordPolicy<User>
    userTokens?: UserTokenKeys
  }

  export type LoginOptions<User = StoreUser> =
    | { user: User, userId?: never, backend?: BackendName, remember?: boolean }
    | { userId: UserId, user?: never, backend?: BackendName, remember?: boolean }

  /** One login as `listLogins` shows it: nothing in it is a credential. */
  export interface LoginInfo {
    /** Opaque; pass it to `endLogin`. Never a session id or token, nor derived from one. */
    id: string
    backend: BackendName
    createdAt: Date
    /** Updated at most once per `logins.touchInterval` (default a minute). */
    lastSeenAt: Date
    /** The sooner of the absolute end and, with an idle timeout, the idle end. */
    expiresAt: Date | null
    userAgent: string | null
    ip: string | null
    /** Whether this is the login the request carries. */
    current: boolean
  }

  /** A login record as a login store keeps it (docs/lifetime.md, "Login stores"). */
  export interface LoginRecord {
    id: string
    userId: UserId
    authHash: string
    backend: BackendName
    createdAt: number
    authenticatedAt: number
    seenAt: number
    expiresAt: number
    remember: boolean | null
    userAgent: string | null
    ip: string | null
    refreshHash?: string
    refreshExpiresAt?: number
    refreshSpent?: string[]
  }

  export interface LoginIndexEntry {
    handle: string
    expiresAt: number
  }

  /**
   * Where logins are kept. Each method is one atomic operation; `get` may answer synchronously. docs/logins.md,
   * "Where logins are kept", says what each must guarantee.
   */
  export interface LoginStore {
    get (key: string): LoginRecord | null | undefined | Promise<LoginRecord | null | undefined>
    create (key: string, record: LoginRecord, expiresAt: number): Promise<void>
    delete (key: string): Promise<void>
    take (key: string): Promise<LoginRecord | null>
    update (key: string, fields: Partial<LoginRecord>, expiresAt: number): Promise<boolean>
    /** May resolve to the entries it pruned, whose records the plugin then deletes. */
    addEntry (indexKey: string, loginId: string, entry: LoginIndexEntry, now: number): Promise<Array<[string, LoginIndexEntry]> | undefined | void>
    /**
     * Replaces an existing entry, atomically; with `expectedHandle`, only while it names that handle (else false, the
     * entry untouched): of two renewals of one login, only one moves it.
     */
    replaceEntry (indexKey: string, loginId: string, entry: LoginIndexEntry, expectedHandle?: string): Promise<boolean>
    /**
     * Removes the entry and resolves to it, atomically; with `expectedHandle`, only while the entry names that handle
     * (else null, the entry untouched): the plugin's clean-ups and ends rely on it to leave a renewed login indexed.
     */
    removeEntry (indexKey: string, loginId: string, expectedHandle?: string): Promise<LoginIndexEntry | null>
    /** Part of the contract, no longer called by the plugin (ending logins now removes entries one by one). */
    removeAllEntries (indexKey: string): Promise<Array<[string, LoginIndexEntry]>>
    entries (indexKey: string): Promise<Array<[string, LoginIndexEntry]>>
    /** Compare-and-swap of one field; needed by `jwt.refresh`. */
    swap? (key: string, field: keyof LoginRecord, expected: unknown, fields: Partial<LoginRecord>, expiresAt: number): Promise<boolean>
  }

  /** What `createRedisLoginStore` needs of a client: node-redis 4+ `createClient()` and `createCluster()` have it. */
  export interface RedisLoginClient {
    hGetAll (key: string): PromiseLike<unknown>
    eval (script: string, options: { keys: string[], arguments: string[] }): PromiseLike<unknown>
  }

  /** Has `swap` too, so it serves `jwt.refresh`. */
  export function createRedisLoginStore (client: RedisLoginClient, options?: { prefix?: string }): LoginStore
  /** A login store in this process's memory, with `swap`: one instance (and tests). */
  export function createMemoryLoginStore (options?: { now?: () => number }): LoginStore & Required<Pick<LoginStore, 'swap'>>

  /** Login lifetimes, in milliseconds. */
  export interface LoginLifetimeOptions {
    /** Absolute lifetime of a login (and of a `remember: true` cookie). Default 14 days. */
    maxAge?: number
    /** Absolute lifetime of a `remember: false` login. Default 12 hours. */
    browserSessionMaxAge?: number
    /** A login unused this long ends. Default 0: off. */
    idleTimeout?: number
    /** `lastSeenAt` is written at most this often per login. Default 60000. */
    touchInterval?: number
  }

  export interface LogoutOptions {
    backend?: BackendName
  }

  export interface AuthenticationErrorConstructor {
    new (message?: string): AuthenticationError
    readonly prototype: AuthenticationError
  }
  export interface AuthenticationError extends FastifyError {
    code: 'FST_AUTH_AUTHENTICATION_FAILED'
    statusCode: 401
  }
  export const AuthenticationError: AuthenticationErrorConstructor

  export function authenticate (request: FastifyRequest, username: string, password: string): Promise<AuthUser>
  export function login (request: FastifyRequest, options: LoginOptions): Promise<string | undefined>
  export function logout (request: FastifyRequest, options?: LogoutOptions): Promise<void>
  export function getUserFromSession (request: FastifyRequest): Promise<AuthUser | null>
  export function getUserFromJwt (request: FastifyRequest): Promise<AuthUser | null>
  export function getUserId (request: FastifyRequest, backend?: BackendName): UserId | null
  export function listLogins (request: FastifyRequest): Promise<LoginInfo[]>
  export function endLogin (request: FastifyRequest, id: string): Promise<boolean>
  export function endOtherLogins (request: FastifyRequest): Promise<number>
  export function reauthenticate (request: FastifyRequest, password: string): Promise<void>
  export function requireUser (request: FastifyRequest): AuthUser
  export function refresh (request: FastifyRequest, refreshToken?: string): Promise<RefreshedTokens>

  export interface UserTokenOptions {
    /** What the token is for ('password-reset', 'verify-email', ...): a token verifies for its own purpose only. */
    purpose: string
    /** How long the token is valid, in milliseconds. Default one hour. */
    maxAge?: number
  }

  export interface VerifyUserTokenOptions {
    purpose: string
  }

  export interface PasswordResetMessage<User = AuthUser> {
    user: User
    /** For a link such as `${yourOrigin}/reset?token=${token}`: build the origin from your config, not the Host header. */
    token: string
    /** The username as the form gave it. */
    username: string
  }

  export interface PasswordResetRequestOptions<User = AuthUser> {
    /** Mails (or queues) the link; called after the response, only for an existing, active user. */
    send: (message: PasswordResetMessage<User>) => unknown
    /** How long the link is valid, in milliseconds. Default one hour. */
    maxAge?: number
  }

  /**
   * The app's rule for new passwords: return a reason (a string, shown to the user in the 400) to refuse, nothing
   * to accept. `user` is null for `checkNewPassword` called without one (a sign-up form).
   */
  export type PasswordPolicy<User = AuthUser> =
    (password: string, context: { user: User | null }) => string | undefined | void | Promise<string | undefined | void>

  export interface UserTokenKeys {
    /** Signs and verifies user tokens; 32+ characters. Default: derived from the auth hash key. */
    secret: string | Buffer
    /** Keys that still verify the tokens they signed before a rotation. */
    previousSecrets?: Array<string | Buffer>
  }

  export const fastifyAuthHelpers: FastifyAuthHelpersPlugin
  export { fastifyAuthHelpers as default }
}

declare function fastifyAuthHelpers (...params: Parameters<FastifyAuthHelpersPlugin>): ReturnType<FastifyAuthHelpersPlugin>

export = fastifyAuthHelpers
