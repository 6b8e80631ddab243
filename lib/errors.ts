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

/**
 * An id the app's user store gave that no login can hold: JSON (the session, the token's claims) has no bigint, and a
 * number past 2**53 is not the id it was. The app's setup is at fault, not the credentials, so it is no 401.
 */
export const InvalidUserIdError = createError<[string, string, string]>(
  'FST_AUTH_INVALID_USER_ID',
  'fastify-auth-helpers: %s gave %s, which a login cannot store exactly (JSON has no bigint): use a string id, ' +
  'e.g. %s', 500, TypeError)

/** A store's own error stays in `cause` (and the log): its message may name hosts and keys, so it is not sent. */
export const StoreError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_STORE_ERROR', 'Session store %s failed', 503)

/** Like StoreError, for the app's user store: a database driver's message names hosts, tables and queries. */
export const UserStoreError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_USER_STORE_ERROR', 'User store %s failed', 503)

export const StoreTimeoutError = createError<[string, number]>(
  'FST_AUTH_STORE_TIMEOUT', 'Session store %s did not answer within %d ms', 503)

/**
 * A 400: @fastify/session gives no session to a request whose raw target is outside the cookie's `path`, and a client
 * chooses that spelling (an absolute-form target, `POST http://host/login`; a percent-encoded path, `/%61pp/login`,
 * that Fastify routes as `/app/login`). Client input never gives a 5xx. A route outside the cookie path gets it on
 * every request, which its first test shows.
 */
export const SessionUnavailableError = createError(
  'FST_AUTH_SESSION_UNAVAILABLE',
  'This request has no session: its target, as sent, is outside the session cookie path', 400)

/**
 * The one answer to a user token (an email link) that does not check out, whatever the reason: forged, truncated,
 * expired, another purpose or key, a user gone or inactive, a password changed since. A 400: the client sent it.
 */
export const InvalidTokenError = createError(
  'FST_AUTH_INVALID_TOKEN', 'This link is invalid or has expired', 400)

/** A new password the plugin's rules or the app's `passwordPolicy` refuse; the message says why, for the form. */
export const InvalidPasswordError = createError<[string]>('FST_AUTH_INVALID_PASSWORD', '%s', 400)

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
