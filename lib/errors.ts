import createError from '@fastify/error'

// Three kinds (docs/architecture.md, "Errors"): a bad registration option, a bad call from the app's code (both 500,
// TypeError), and what a client sent or an outage (4xx, 503).

export const InvalidOptionError = createError<[string]>('FST_AUTH_INVALID_OPTION', 'fastify-auth-helpers: %s', 500, TypeError)

export const InvalidArgumentError = createError<[string]>('FST_AUTH_INVALID_ARGUMENT', 'fastify-auth-helpers: %s', 500, TypeError)

export const UnsupportedBackendError = createError<[unknown]>(
  'FST_AUTH_UNSUPPORTED_BACKEND', 'Unsupported auth backend %j: use "session" or "jwt"', 500, TypeError)

export const BackendNotConfiguredError = createError<[string, string]>(
  'FST_AUTH_BACKEND_NOT_CONFIGURED', 'The %s auth backend is not configured: pass the `%s` option to fastify-auth-helpers', 500)

/** JSON (the session, the token's claims) has no bigint, and a number past 2**53 is not the id it was. */
export const InvalidUserIdError = createError<[string, string, string]>(
  'FST_AUTH_INVALID_USER_ID',
  'fastify-auth-helpers: %s gave %s, which a login cannot store exactly (JSON has no bigint): use a string id, ' +
  'e.g. %s', 500, TypeError)

export const LoginStoreUnsupportedError = createError<[string]>(
  'FST_AUTH_LOGIN_STORE_UNSUPPORTED',
  '%s needs a login store that can list, update and end logins atomically: pass `loginStore` ' +
  '(createRedisLoginStore(client) for Redis), or keep the default MemoryStore', 500)

/** Listing or ending a user's logins would leave out every token, and report the rest as all there was. */
export const JwtLoginsUnkeptError = createError<[string]>(
  'FST_AUTH_LOGIN_STORE_UNSUPPORTED',
  '%s cannot reach JWT logins, which no store keeps without `loginStore`: pass `loginStore` (createRedisLoginStore(client), ' +
  'or createMemoryLoginStore() on a single instance) so that tokens can be listed and ended with the sessions', 500)

const AuthenticationErrorBase = createError('FST_AUTH_AUTHENTICATION_FAILED', '%s', 401)

/** One error for every credential that does not check out, so that an unknown user reads as a wrong password. */
export class AuthenticationError extends AuthenticationErrorBase {
  constructor (message = 'Invalid username or password') {
    super(message)
    this.name = 'AuthenticationError'
  }
}

/** Without a stack: Fastify logs a 4xx at info with its error, and a request without a login is no fault of the code. */
export const UnauthorizedError = createError('FST_AUTH_UNAUTHORIZED', 'Authentication required', 401, Error, false)

export const ReauthenticationRequiredError = createError(
  'FST_AUTH_REAUTHENTICATION_REQUIRED', 'Confirm your password to continue', 401)

/** One answer for every refused refresh token, so a client learns nothing about why. */
export const InvalidRefreshTokenError = createError('FST_AUTH_INVALID_REFRESH_TOKEN', 'Invalid refresh token', 401)

/** One answer for every user token (an email link) that does not check out. */
export const InvalidTokenError = createError('FST_AUTH_INVALID_TOKEN', 'This link is invalid or has expired', 400)

export const InvalidPasswordError = createError<[string]>('FST_AUTH_INVALID_PASSWORD', '%s', 400)

/** @fastify/session gives no session to a request whose target, as sent, is outside the cookie's path. */
export const SessionUnavailableError = createError(
  'FST_AUTH_SESSION_UNAVAILABLE',
  'This request has no session: its target, as sent, is outside the session cookie path', 400)

/** argon2's queue is full: refused before any hashing, so it says nothing about the credentials. */
export const BusyError = createError('FST_AUTH_BUSY', 'The server is busy hashing passwords: try again later', 503)

/** A store's own error stays in `cause`: its message may name hosts and keys. `%s` names the store and the call. */
export const StoreError = createError<[string, { cause: unknown }]>('FST_AUTH_STORE_ERROR', '%s failed', 503)

export const StoreTimeoutError = createError<[string, number]>(
  'FST_AUTH_STORE_TIMEOUT', '%s did not answer within %d ms', 503)

export const UserStoreError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_USER_STORE_ERROR', 'User store %s failed', 503)

export const RevocationFailedError = createError<[string, { cause: unknown }]>(
  'FST_AUTH_REVOCATION_FAILED', 'The token revocation hook `jwt.%s` failed or did not answer in time', 503)
