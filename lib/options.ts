import type { FastifyRequest } from 'fastify'
import { InvalidOptionError } from './errors'
import { DEFAULT_AUTH_BACKEND, isSupportedBackend, type BackendName } from './constants'

import type { HashOptions, LoginFailureReason, UserId, UserStore as PublicUserStore } from '../types/index'

export type { HashOptions, LoginFailureReason, UserId }
/** Inside the plugin a user is any object: the app's own type lives in its declaration merge. */
export type User = object
export type UserStore = PublicUserStore<User>

export interface RawOptions {
  users?: UserStore
  defaultBackend?: unknown
  getUserId?: (user: User) => unknown
  getPasswordHash?: (user: User) => unknown
  isActive?: (user: User) => boolean
  session?: Record<string, unknown> & { secret?: unknown, storeTimeout?: number, cookieName?: string }
  jwt?: Record<string, unknown>
  authHashSecret?: string | Buffer
  hashOptions?: HashOptions
  maxPasswordLength?: number
  maxUsernameLength?: number
  onLogin?: (event: { request: FastifyRequest, user: User, backend: BackendName }) => unknown
  onLogout?: (event: { request: FastifyRequest, userId: UserId | null, backend: BackendName }) => unknown
  onLoginFailed?: (event: { request: FastifyRequest, username: string | null, reason: LoginFailureReason }) => unknown
}

/** Every option with its default applied, read once at registration. */
export interface ResolvedOptions {
  users: UserStore
  defaultBackend: BackendName
  getUserId: (user: User) => unknown
  getPasswordHash: (user: User) => unknown
  isActive: (user: User) => boolean
  session: RawOptions['session']
  jwt: RawOptions['jwt']
  authHashSecret: string | Buffer | undefined
  hashOptions: HashOptions
  maxPasswordLength: number
  maxUsernameLength: number
  storeTimeout: number
  onLogin: RawOptions['onLogin']
  onLogout: RawOptions['onLogout']
  onLoginFailed: RawOptions['onLoginFailed']
}

const defaultGetUserId = (user: User): unknown => (user as { id?: unknown }).id
const defaultGetPasswordHash = (user: User): unknown => (user as { password?: unknown }).password
const defaultIsActive = (user: User): boolean => (user as { isActive?: unknown }).isActive !== false

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

/** The secret of the session options when it is one we can key an HMAC with. */
function sessionSecret (session: RawOptions['session']): string | undefined {
  const secret = session?.secret
  if (typeof secret === 'string') return secret
  if (Array.isArray(secret) && typeof secret[0] === 'string') return secret[0]
  return undefined
}

export function resolveOptions (options: RawOptions): ResolvedOptions {
  const { users } = options
  if (users === null || typeof users !== 'object') fail('the `users` option (your user store) is required')
  checkFunction(users.findByUsername, 'users.findByUsername', true)
  checkFunction(users.findById, 'users.findById', true)
  checkFunction(users.updatePasswordHash, 'users.updatePasswordHash')
  for (const name of ['getUserId', 'getPasswordHash', 'isActive', 'onLogin', 'onLogout', 'onLoginFailed'] as const) {
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
    if (typeof session.secret === 'string' && session.secret.length < 32) {
      fail('`session.secret` must be at least 32 characters long')
    }
    checkPositiveInteger(session.storeTimeout, 'session.storeTimeout')
  }
  if (options.jwt !== undefined && (options.jwt === null || typeof options.jwt !== 'object')) {
    fail('`jwt` must be an object of JWT options')
  }

  const authHashSecret = options.authHashSecret ?? sessionSecret(session) ??
    (typeof options.jwt?.secret === 'string' ? options.jwt.secret : undefined)
  if (authHashSecret !== undefined) {
    if (!(typeof authHashSecret === 'string' || Buffer.isBuffer(authHashSecret)) || authHashSecret.length < 32) {
      fail('`authHashSecret` must be a string or Buffer of at least 32 characters')
    }
  }

  const hashOptions = options.hashOptions ?? {}
  if (hashOptions === null || typeof hashOptions !== 'object') fail('`hashOptions` must be an object')
  for (const key of ['memoryCost', 'timeCost', 'parallelism'] as const) {
    checkPositiveInteger(hashOptions[key], `hashOptions.${key}`)
  }
  checkPositiveInteger(options.maxPasswordLength, 'maxPasswordLength')
  checkPositiveInteger(options.maxUsernameLength, 'maxUsernameLength')

  return {
    users,
    defaultBackend,
    getUserId: options.getUserId ?? defaultGetUserId,
    getPasswordHash: options.getPasswordHash ?? defaultGetPasswordHash,
    isActive: options.isActive ?? defaultIsActive,
    session,
    jwt: options.jwt,
    authHashSecret,
    hashOptions: { ...hashOptions },
    maxPasswordLength: options.maxPasswordLength ?? 4096,
    maxUsernameLength: options.maxUsernameLength ?? 512,
    storeTimeout: session?.storeTimeout ?? 5000,
    onLogin: options.onLogin,
    onLogout: options.onLogout,
    onLoginFailed: options.onLoginFailed
  }
}
