import type { FastifyRequest } from 'fastify'
import type {
  FastifyAuthHelpersOptions, LoginEndedEvent, LoginFailedEvent, LoginStore, LogoutEvent
} from '../../types/index'
import { DEFAULT_AUTH_BACKEND, isSupportedBackend, type BackendName } from '../constants'
import { checkFunction, checkObject, fail, isSecret } from './check'
import { resolveJwtOptions, type ResolvedJwtOptions } from './jwt'
import { resolveLifetime, resolveLoginStore, type Lifetime } from './logins'
import { resolvePasswordOptions, type ResolvedPasswordOptions } from './passwords'
import { checkSessionOptions, resolveSessionOptions, sessionHashSecret, type ResolvedSessionOptions } from './session'
import { resolveUsers, type ResolvedUsers, type User } from './users'

export type { User, UserStore } from './users'

export interface ResolvedOptions extends ResolvedUsers, ResolvedPasswordOptions {
  defaultBackend: BackendName
  /** Whether there is a session backend: the plugin registers @fastify/session (`session`), or the app did. */
  hasSession: boolean
  /** The @fastify/session the plugin registers; undefined when the app registered its own, or there is none. */
  session: ResolvedSessionOptions | undefined
  jwt: ResolvedJwtOptions | undefined
  authHashSecret: string | Buffer
  rotateOnLogin: readonly string[]
  /** How long any one session or login store call may take (ms). */
  storeTimeout: number
  /** The app's own login store; undefined for the one over the plugin's session store. */
  loginStore: LoginStore | undefined
  /** Whether the registration keeps its logins in a store that can list, end and update them atomically. */
  keepsLogins: boolean
  lifetime: Lifetime
  /** The one clock every login time is read from. */
  now: () => number
  onLogin: ((event: { request: FastifyRequest, user: User, backend: BackendName }) => unknown) | undefined
  onLogout: ((event: LogoutEvent) => unknown) | undefined
  onLoginFailed: ((event: LoginFailedEvent) => unknown) | undefined
  onLoginEnded: ((event: LoginEndedEvent) => unknown) | undefined
}

const TOP_LEVEL = [
  'users', 'defaultBackend', 'getUserId', 'getPasswordHash', 'isActive', 'session', 'jwt', 'authHashSecret', 'hashOptions',
  'maxPasswordLength', 'maxUsernameLength', 'maxQueuedHashes', 'rotateOnLogin', 'loginStore', 'logins', 'now',
  'passwordPolicy', 'userTokens', 'onLogin', 'onLogout', 'onLoginFailed', 'onLoginEnded',
  // Fastify's own register options, which it hands on with the plugin's.
  'prefix', 'logLevel', 'logSerializers'
]

/**
 * Every option, checked once at registration, cross-option rules included. `appSession`: the app registered
 * @fastify/session before the plugin, whose own `session` then only sets the store timeout.
 */
export function resolveOptions (given: FastifyAuthHelpersOptions, appSession: boolean): ResolvedOptions {
  const options = checkObject(given, '', TOP_LEVEL, 'an object with at least `users`')
  const users = resolveUsers(options)

  const defaultBackend = options.defaultBackend ?? DEFAULT_AUTH_BACKEND
  if (!isSupportedBackend(defaultBackend)) fail(`\`defaultBackend\` must be "session" or "jwt", got ${JSON.stringify(defaultBackend)}`)
  if (defaultBackend === 'jwt' && options.jwt == null) fail('`defaultBackend: "jwt"` needs the `jwt` option')

  const { session: rawSession, storeTimeout } = checkSessionOptions(options.session)
  const session = appSession || rawSession === undefined ? undefined : resolveSessionOptions(rawSession)
  const hasSession = appSession || session !== undefined
  const sessionCookie = hasSession ? (rawSession?.cookieName as string | undefined) ?? 'sessionId' : undefined
  const jwt = options.jwt === undefined ? undefined : resolveJwtOptions(options.jwt, sessionCookie)
  const authHashSecret = options.authHashSecret ?? sessionHashSecret(rawSession) ?? jwtHashSecret(jwt)
  if (defaultBackend === 'session' && !hasSession) {
    fail('the default backend "session" is not configured: pass the `session` option (for sessions, registering ' +
      '@fastify/session before this plugin also works)' + (jwt === undefined ? '' : ", or set `defaultBackend: 'jwt'` to log in with tokens by default"))
  }
  if (authHashSecret === undefined) {
    fail('`authHashSecret` (32+ characters) is required when neither `session.secret` nor `jwt.secret` is a string to key the auth hash with')
  }
  if (!isSecret(authHashSecret)) fail('`authHashSecret` must be a string or Buffer of at least 32 characters')

  const loginStore = resolveLoginStore(options.loginStore)
  // The plugin's own session store keeps logins exactly when it answers synchronously (lib/login-store/memory.ts).
  const keepsLogins = loginStore !== undefined || session?.synchronousStore === true
  const lifetime = resolveLifetime(options.logins)
  if (lifetime.idleTimeout > 0 && !keepsLogins) {
    fail('`logins.idleTimeout` needs a login store that can update logins atomically: pass `loginStore` ' +
      '(createRedisLoginStore(client) for Redis), or keep the default MemoryStore')
  }
  // A refresh token is spent by compare-and-swap on its login's record; nothing else makes it single-use.
  if (jwt?.refresh !== undefined && typeof loginStore?.swap !== 'function') {
    fail('`jwt.refresh` needs `loginStore`, a login store with `swap`: createRedisLoginStore(client) for several ' +
      'instances, or createMemoryLoginStore() for one process (docs/refresh-tokens.md)')
  }

  const rotateOnLogin = options.rotateOnLogin ?? ['_csrf']
  if (!Array.isArray(rotateOnLogin) || !rotateOnLogin.every(key => typeof key === 'string')) {
    fail('`rotateOnLogin` must be an array of session key names')
  }
  return {
    ...users,
    ...resolvePasswordOptions(options, authHashSecret),
    defaultBackend,
    hasSession,
    session,
    jwt,
    authHashSecret,
    rotateOnLogin: [...rotateOnLogin],
    storeTimeout,
    loginStore,
    keepsLogins,
    lifetime,
    now: checkFunction<() => number>(options.now, 'now') ?? Date.now,
    onLogin: checkFunction(options.onLogin, 'onLogin'),
    onLogout: checkFunction(options.onLogout, 'onLogout'),
    onLoginFailed: checkFunction(options.onLoginFailed, 'onLoginFailed'),
    onLoginEnded: checkFunction(options.onLoginEnded, 'onLoginEnded')
  }
}

/** Keyed by `jwt.secret` only without `previousKeys`: rotating the key would change every auth hash and end every token. */
function jwtHashSecret (jwt: ResolvedJwtOptions | undefined): string | Buffer | undefined {
  const secret = jwt?.keys[0].secret
  if (jwt === undefined || !(typeof secret === 'string' || Buffer.isBuffer(secret))) return undefined
  if (jwt.keys.length > 1) {
    fail('`jwt.previousKeys` needs `authHashSecret` (or a string `session.secret`): keyed by `jwt.secret`, ' +
      'the auth hash would change with it and end the old key\'s tokens anyway')
  }
  return secret
}
