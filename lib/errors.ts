import createError from '@fastify/error'

const AuthenticationErrorBase = createError('FST_AUTH_AUTHENTICATION_FAILED', '%s', 401)

/**
 * The one error for credentials that do not check out, whatever the reason, so that a caller cannot tell
 * an unknown user from a wrong password. `login()` misuse raises it too, with a message that says what was wrong.
 */
export class AuthenticationError extends AuthenticationErrorBase {
  constructor (message = 'Invalid username or password') {
    super(message)
    this.name = 'AuthenticationError'
  }
}

export const UnsupportedBackendError = createError<[unknown]>(
  'FST_AUTH_UNSUPPORTED_BACKEND', 'Unsupported auth backend %j: use "session" or "jwt"', 500, TypeError)

export const BackendNotConfiguredError = createError<[string, string]>(
  'FST_AUTH_BACKEND_NOT_CONFIGURED', 'The %s auth backend is not configured: pass the `%s` option to fastify-auth-helpers', 500)

export const InvalidOptionError = createError<[string]>('FST_AUTH_INVALID_OPTION', 'fastify-auth-helpers: %s', 500, TypeError)

export const UnauthorizedError = createError('FST_AUTH_UNAUTHORIZED', 'Authentication required', 401)

/** A store's own error stays in `cause` (and the log): its message may name hosts and keys, so it is not sent. */
export const StoreError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_STORE_ERROR', 'Session store %s failed', 503)

/** Like StoreError, for the app's user store: a database driver's message names hosts, tables and queries. */
export const UserStoreError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_USER_STORE_ERROR', 'User store %s failed', 503)

export const StoreTimeoutError = createError<[string, number]>(
  'FST_AUTH_STORE_TIMEOUT', 'Session store %s did not answer within %d ms', 503)

export const SessionUnavailableError = createError(
  'FST_AUTH_SESSION_UNAVAILABLE',
  'This request has no session: its path is outside the session cookie path, or logout already ended it', 500)

/**
 * argon2's queue is full: the call is refused before any hashing, for the load alone, so it says nothing about the
 * username or password it carried. A 503 rather than a 401: nobody's credentials were checked.
 */
export const BusyError = createError(
  'FST_AUTH_BUSY', 'The server is busy hashing passwords: try again later', 503)

export const RevocationFailedError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_REVOCATION_FAILED', 'The token revocation hook `jwt.%s` failed or did not answer in time', 503)

/**
 * The login store lacks what a feature needs (lib/login-store.ts): an express-session store such as connect-redis
 * cannot update, take or index records atomically. A programmer's setup error, so a 500 that says what to pass.
 */
export const LoginStoreUnsupportedError = createError<[string]>(
  'FST_AUTH_LOGIN_STORE_UNSUPPORTED',
  '%s needs a login store that can list, update and end logins atomically: pass `loginStore` ' +
  '(createRedisLoginStore(client) for Redis), or keep the default MemoryStore', 500)

/** The current login last proved its password longer ago than the route allows (app.requireRecentLogin). */
export const ReauthenticationRequiredError = createError(
  'FST_AUTH_REAUTHENTICATION_REQUIRED', 'Confirm your password to continue', 401)

/**
 * Every refresh that fails for the client's reasons: unknown, spent, expired, an ended login, not a refresh token at
 * all. One code and message, so a client (or an attacker) learns nothing about which; the event and the log tell the
 * app when it was a reuse.
 */
export const InvalidRefreshTokenError = createError(
  'FST_AUTH_INVALID_REFRESH_TOKEN', 'Invalid refresh token', 401)
