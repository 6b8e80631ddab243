export const USER_ID_KEY = '_auth_user_id'
export const BACKEND_KEY = '_auth_backend'
/** Holds an HMAC of the user's password hash: a password change ends every login made before it. */
export const AUTH_HASH_KEY = '_auth_user_hash'
/** Names the server-side login record that logout deletes; see backends/session.ts. */
export const LOGIN_NONCE_KEY = '_auth_login'
export const DEFAULT_AUTH_BACKEND = 'session'
export const SUPPORTED_BACKENDS: readonly ['session', 'jwt'] = Object.freeze(['session', 'jwt'] as const)

export type BackendName = typeof SUPPORTED_BACKENDS[number]

export function isSupportedBackend (name: unknown): name is BackendName {
  return name === 'session' || name === 'jwt'
}
