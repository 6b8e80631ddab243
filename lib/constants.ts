export const USER_ID_KEY = '_auth_user_id'
export const BACKEND_KEY = '_auth_backend'
/** The JWT claim holding the auth hash: an HMAC of the user's id and password hash. */
export const AUTH_HASH_KEY = '_auth_user_hash'
/** The JWT claims of the token's login (seconds): when it was made and when it ends, whatever token carries it. */
export const LOGIN_CREATED_KEY = '_auth_login_iat'
export const LOGIN_EXPIRES_KEY = '_auth_login_exp'
/** OpenID Connect's claim for the login's last proof of its user (seconds). */
export const AUTH_TIME_KEY = 'auth_time'
/** A session key of an older session layout: login does not carry it over. */
export const LOGIN_NONCE_KEY = '_auth_login'
export const DEFAULT_AUTH_BACKEND = 'session'
export const SUPPORTED_BACKENDS: readonly ['session', 'jwt'] = Object.freeze(['session', 'jwt'] as const)

export type BackendName = typeof SUPPORTED_BACKENDS[number]

export function isSupportedBackend (name: unknown): name is BackendName {
  return name === 'session' || name === 'jwt'
}

/** A user id a login can hold: a non-empty string without NUL (PostgreSQL refuses it in text), or a safe integer. */
export function isValidUserId (value: unknown): value is string | number {
  if (typeof value === 'string') return value.length > 0 && value.length <= 512 && !value.includes('\u0000')
  return Number.isSafeInteger(value)
}
