import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AUTH_HASH_KEY, BACKEND_KEY, LOGIN_NONCE_KEY, USER_ID_KEY } from '../constants'
import { SessionUnavailableError } from '../errors'
import { storeCall, storeGet, timedStore, withTimeout, type SessionStore } from '../store'
import { isValidUserId, type Backend, type StoredLogin } from './backend'
import type { UserId } from '../options'

interface SessionLike {
  [key: string]: unknown
  cookie: object
  sessionId: string
  regenerate (keys?: string[]): Promise<void>
}

/**
 * The login itself, kept apart from the session (see below). The auth hash lives here rather than in the session:
 * @fastify/session serializes and hashes the whole session twice per request to see whether it changed, so each key
 * in it costs every authenticated request (bench/README.md); this record is read once per request anyway.
 */
interface LoginRecord {
  cookie: unknown
  userId: UserId
  authHash: unknown
}

// AUTH_HASH_KEY and LOGIN_NONCE_KEY are no longer written, but a session from an earlier version may hold them: they
// are not carried over.
const AUTH_KEYS = [USER_ID_KEY, BACKEND_KEY, AUTH_HASH_KEY, LOGIN_NONCE_KEY]

/** The session id of the login this request made, until the request ends. */
const kLoginMade = Symbol('fastify-auth-helpers.loginMade')

type MarkedRequest = FastifyRequest & { [kLoginMade]?: string }

/**
 * The login this request has checked (read) or made (login). `getUserId` names the session's user only while the
 * session still holds that login: a request judged on its token never reads the session riding along, and that
 * session may hold a login that a password change, a deactivation or a logout has ended.
 */
const kCheckedLogin = Symbol('fastify-auth-helpers.checkedLogin')

type CheckingRequest = FastifyRequest & { [kCheckedLogin]?: { sessionId: string, userId: UserId } }

/**
 * Why a login record: `@fastify/session` saves a request's session when it ends. A request that loaded the
 * session before a logout and ends after it writes the logged-in session back under the old id, and the old cookie
 * works again (Django #21608, express-session #632). No store offers an atomic "save if it still exists", so the
 * login itself lives in a second store entry that only login writes and logout deletes: a session revived by a
 * stale save has no record under its id any more, and reads as anonymous. It holds across instances sharing a store.
 *
 * The record is named after the session id, which login always renews, so the session itself holds nothing but the
 * two keys of API.md: every key in it costs each request a serialization and a hash in @fastify/session
 * (bench/README.md). The price: an app's own `session.regenerate()` gives the session an id without a record, and so
 * ends the login; to renew the id of a logged-in session, the app calls login() again (README, request.login).
 */
function recordKey (sessionId: string): string {
  return `auth-login:${sessionId}`
}

function sessionOf (request: FastifyRequest): SessionLike | null {
  const session = (request as unknown as { session?: SessionLike | null }).session
  return session != null && typeof session.regenerate === 'function' ? session : null
}

function timedStoreOf (request: FastifyRequest, storeTimeout: number): SessionStore {
  return timedStore((request as unknown as { sessionStore: SessionStore }).sessionStore, storeTimeout)
}

function none (): null {
  return null
}

/**
 * @param rotateOnLogin session keys holding per-session secrets (a CSRF secret): login drops them even when it keeps
 * the visitor's other data, since whoever planted or saw the anonymous session holds what they protect.
 * @param forgetCookie drops a session's cookie from the signature cache (lib/signer.ts) once its login has ended.
 */
export function createSessionBackend (storeTimeout: number, rotateOnLogin: readonly string[], forgetCookie: (sessionId: string) => void = () => {}): Backend {
  const dropped = new Set([...AUTH_KEYS, ...rotateOnLogin])
  let warnedInsecure = false

  const storeOf = (request: FastifyRequest): SessionStore => timedStoreOf(request, storeTimeout)

  /**
   * Ends the session's login and gives the request a fresh, empty session that is saved only if the route writes
   * to it. `@fastify/session` sees the new id and expires the old cookie itself.
   */
  async function flush (request: FastifyRequest, session: SessionLike): Promise<void> {
    const store = storeOf(request)
    // The record goes first: once it is gone the login is dead, whatever happens to the session entry after. Deleted
    // even when the session names no user: an app that removed the user's key by hand left the record behind.
    await storeCall(store, 'destroy', recordKey(session.sessionId))
    forgetCookie(session.sessionId)
    await withTimeout(session.regenerate([]), storeTimeout, 'regenerate')
    await storeCall(store, 'destroy', (sessionOf(request) as SessionLike).sessionId)
  }

  return {
    name: 'session',

    carries (request) {
      const session = (request as unknown as { session?: Record<string, unknown> | null }).session
      return session?.[USER_ID_KEY] != null
    },

    // Not async: with a store that answers at once (MemoryStore), a valid login is read without a promise.
    read (request) {
      const session = sessionOf(request)
      const userId = session?.[USER_ID_KEY]
      // No login at all, as `carries` sees it: an anonymous visitor's session and its data are not ours to flush.
      if (session == null || userId == null) return null
      if (session[BACKEND_KEY] !== 'session' || !isValidUserId(userId)) return flush(request, session).then(none)
      const sessionId = session.sessionId
      return storeGet(storeOf(request), recordKey(sessionId), (record) => {
        if (record == null || (record as LoginRecord).userId !== userId) return flush(request, session).then(none)
        ;(request as CheckingRequest)[kCheckedLogin] = { sessionId, userId }
        return { userId, authHash: (record as LoginRecord).authHash }
      })
    },

    async login (request, { userId, authHash }: StoredLogin) {
      const session = sessionOf(request)
      if (session === null) throw new SessionUnavailableError()
      const store = storeOf(request)
      const previousUser = session[USER_ID_KEY]
      // Same visitor, same user (or nobody yet): keep their session data. Another user's data is not theirs.
      const keep = previousUser == null || String(previousUser) === String(userId)
        ? Object.keys(session).filter(key => key !== 'cookie' && !dropped.has(key))
        : []
      if (previousUser != null) await storeCall(store, 'destroy', recordKey(session.sessionId))
      forgetCookie(session.sessionId)
      // A new session id on every login defeats session fixation, and names a record no earlier login had.
      await withTimeout(session.regenerate(keep), storeTimeout, 'regenerate')
      const fresh = sessionOf(request) as SessionLike
      const sessionId = fresh.sessionId
      // The record carries the session's cookie so that stores which expire entries (connect-redis) expire both alike.
      await storeCall(store, 'set', recordKey(sessionId), { cookie: fresh.cookie, userId, authHash } satisfies LoginRecord)
      fresh[USER_ID_KEY] = userId
      fresh[BACKEND_KEY] = 'session'
      ;(request as CheckingRequest)[kCheckedLogin] = { sessionId, userId }
      ;(request as MarkedRequest)[kLoginMade] = sessionId
      if (!warnedInsecure && (fresh.cookie as { secure?: unknown }).secure === true && request.protocol !== 'https') {
        // @fastify/session sends no Secure cookie over plain http: the login succeeds and the browser never knows.
        warnedInsecure = true
        request.log.warn('fastify-auth-helpers: a login over plain http with a Secure session cookie (the default): ' +
          'no cookie is sent, so the user stays logged out. Behind a TLS proxy, set Fastify\'s `trustProxy`; for ' +
          'local http, set `session.cookie.secure` to \'auto\' or false (README, "Session defaults")')
      }
      return undefined
    },

    async logout (request) {
      const session = sessionOf(request)
      if (session !== null) {
        await flush(request, session)
        return
      }
      // @fastify/session gave this request no session (it leaves `{}` in its place), so the login its cookie may
      // name is out of sight: answering success would tell the user they are logged out while they are not. A session
      // the app destroyed itself (null) has no login left to end.
      if ((request as unknown as { session?: unknown }).session != null) throw new SessionUnavailableError()
    },

    /**
     * As Django does not save a session on a 5xx, the failed login's session is neither saved nor handed out, and its
     * record is deleted so that a save that lands late cannot revive it. Without it, a route that sends a 5xx after
     * `login()`, or throws, hands out a working logged-in cookie, and so does a session save that fails in onSend (the
     * store is down or slow): Fastify sends the 500 through onSend again and the second save succeeds. Runs before
     * @fastify/session's onSend when the plugin registered it; after it when the app did, so a cookie already set for
     * the session is taken off the response too.
     */
    async abandon (request, reply) {
      const sessionId = (request as MarkedRequest)[kLoginMade]
      if (sessionId === undefined) return
      ;(request as MarkedRequest)[kLoginMade] = undefined
      const session = sessionOf(request)
      if (session !== null && session.sessionId === sessionId) {
        for (const key of AUTH_KEYS) delete session[key]
        dropSetCookie(reply, (session as unknown as { encryptedSessionId: string }).encryptedSessionId)
        // @fastify/session neither saves nor sets a cookie for a request without a session.
        ;(request as unknown as { session: null }).session = null
      }
      const store = storeOf(request)
      try {
        await storeCall(store, 'destroy', recordKey(sessionId))
        // Already saved when the app's own @fastify/session ran first; nothing else names this new id.
        await storeCall(store, 'destroy', sessionId)
      } catch (err) {
        // The session naming the record was never handed out, so the record is unreachable: log and move on.
        request.log.error({ err }, 'fastify-auth-helpers: could not delete the record of a failed login')
      }
    },

    storedUserId (request) {
      const checked = (request as CheckingRequest)[kCheckedLogin]
      return checked !== undefined && sessionOf(request)?.sessionId === checked.sessionId ? checked.userId : null
    }
  }
}

/** Takes off the response every Set-Cookie that carries `signedId`, the session's cookie value. */
function dropSetCookie (reply: FastifyReply, signedId: string): void {
  const header = reply.getHeader('set-cookie')
  if (header === undefined) return
  const headers = Array.isArray(header) ? header : [String(header)]
  // As @fastify/session writes it (unencoded), or encoded as cookie libraries do by default.
  const spellings = [signedId, encodeURIComponent(signedId)]
  const others = headers.filter(value => !spellings.some(spelling => value.includes(`=${spelling};`)))
  if (others.length === headers.length) return
  reply.removeHeader('set-cookie')
  if (others.length > 0) reply.header('set-cookie', others)
}

interface SessionCookieOptions {
  path?: string
  domain?: string
  secure?: boolean | 'auto'
  httpOnly?: boolean
  sameSite?: unknown
  partitioned?: boolean
}

/**
 * onSend, after @fastify/session's: when a request ends with a session id other than its cookie's (logout, a stale
 * login's cleanup), @fastify/session expires the cookie with only its path and domain. Browsers ignore a `__Host-`
 * cookie's expiry without Secure, and a partitioned cookie's without Partitioned, so the dead cookie would stay in
 * the browser. The expiring cookie is sent again with the session cookie's own flags.
 */
export function expireCookieWithItsFlags (cookieName: string, cookie: SessionCookieOptions) {
  const expiring = (header: string): boolean => header.startsWith(`${cookieName}=;`) && /;\s*Max-Age=0(?:;|$)/i.test(header)
  return function expireCookieWithItsFlags (request: FastifyRequest, reply: FastifyReply, _payload: unknown, done: HookHandlerDoneFunction): void {
    const header = reply.getHeader('set-cookie')
    if (header === undefined) {
      done()
      return
    }
    const headers = Array.isArray(header) ? header : [String(header)]
    const others = headers.filter(value => !expiring(value))
    if (others.length < headers.length) {
      reply.removeHeader('set-cookie')
      if (others.length > 0) reply.header('set-cookie', others)
      reply.clearCookie(cookieName, {
        path: cookie.path ?? '/',
        domain: cookie.domain,
        secure: cookie.secure === 'auto' ? request.protocol === 'https' : cookie.secure,
        httpOnly: cookie.httpOnly,
        sameSite: cookie.sameSite as 'lax',
        partitioned: cookie.partitioned
      })
    }
    done()
  }
}
