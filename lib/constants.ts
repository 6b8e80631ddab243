export const USER_ID_KEY = '_auth_user_id'
export const BACKEND_KEY = '_auth_backend'
/** JWT claim holding an HMAC of the user's id and password hash: a password change ends every login made before it. */
export const AUTH_HASH_KEY = '_auth_user_hash'
/** Named the session's login record in sessions of earlier versions; login drops it. See backends/session.ts. */
export const LOGIN_NONCE_KEY = '_auth_login'
export const DEFAULT_AUTH_BACKEND = 'session'
export const SUPPORTED_BACKENDS: readonly ['session', 'jwt'] = Object.freeze(['session', 'jwt'] as const)

export type BackendName = typeof SUPPORTED_BACKENDS[number]

export function isSupportedBackend (name: unknown): name is BackendName {
  return name === 'session' || name === 'jwt'
}
