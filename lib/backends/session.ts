import { randomBytes } from 'node:crypto'
import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import { AUTH_HASH_KEY, BACKEND_KEY, LOGIN_NONCE_KEY, USER_ID_KEY } from '../constants'
import { SessionUnavailableError, UnauthorizedError } from '../errors'
import { storeCall, timedStore, withTimeout, type SessionStore } from '../store'
import { currentLogin, setCurrentLogin, type CurrentLogin, type Logins } from '../logins'
import type { LoginRecord } from '../login-store'
import { isValidUserId, type Backend, type LoginPlan, type StoredLogin } from './backend'
import type { UserId } from '../options'

interface SessionLike {
  [key: string]: unknown
  cookie: { expires?: Date | null, originalMaxAge?: number | null, maxAge?: number | null, secure?: unknown }
  sessionId: string
  regenerate (keys?: string[]): Promise<void>
}

// AUTH_HASH_KEY and LOGIN_NONCE_KEY are no longer written, but a session from an earlier version may hold them: they
// are not carried over.
const AUTH_KEYS = [USER_ID_KEY, BACKEND_KEY, AUTH_HASH_KEY, LOGIN_NONCE_KEY]

/** The session id of the login this request made, until the request ends. */
const kLoginMade = Symbol('fastify-auth-helpers.loginMade')

type MarkedRequest = FastifyRequest & { [kLoginMade]?: string }

/**
 * Logged-in sessions get ids of their own length (43 characters: 32 random bytes) and anonymous ones keep
 * @fastify/session's (32 characters: 24 bytes), so the cookie alone says whether a record is worth reading before the
 * session is loaded: an anonymous visitor's session (a cart, a CSRF secret) costs no login-store read.
 */
export const LOGIN_SESSION_ID_LENGTH = 43

/** Set while the backend calls `session.regenerate()`: for a login, or to empty the session (logout). */
const kRegenerating = Symbol('fastify-auth-helpers.regenerating')
/** The id our generator gave the session that `regenerate()` made, when the plugin registered @fastify/session. */
const kRegeneratedId = Symbol('fastify-auth-helpers.regeneratedId')

type IssuingRequest = FastifyRequest & { [kRegenerating]?: 'login' | 'empty', [kRegeneratedId]?: string }

/**
 * Ids of sessions that `regenerate()` is making for the backend, whose store write it makes right away. That write
 * is a round trip the request does not need: a login's new session is saved at the end of the request anyway (it
 * holds the user's id, so @fastify/session sees it modified), and logout's empty one must not be saved unless the
 * route writes to it. `skippingRegenerateWrites` answers that one write without calling the store. Ids are random
 * and each is removed at its first write, which `regenerate()` always makes (after its destroy, failed or not).
 */
const unsavedIds = new Set<string>()

/** @fastify/session's `idGenerator`: login ids from here, every other id from the app's generator or a default one. */
export function loginAwareIdGenerator (appGenerator?: (request: FastifyRequest) => string) {
  return function idGenerator (request: FastifyRequest): string {
    const regenerating = (request as IssuingRequest | undefined)?.[kRegenerating]
    const id = regenerating === 'login'
      ? randomBytes(32).toString('base64url')
      : appGenerator === undefined ? randomBytes(24).toString('base64url') : appGenerator(request)
    if (regenerating !== undefined) {
      unsavedIds.add(id)
      ;(request as IssuingRequest)[kRegeneratedId] = id
    }
    return id
  }
}

/** The session store @fastify/session gets from the plugin: `regenerate()`'s own write of a new session is skipped. */
export function skippingRegenerateWrites (store: SessionStore): SessionStore {
  return Object.create(store, {
    set: {
      value: function set (id: string, value: unknown, callback: (error?: unknown) => void) {
        if (unsavedIds.delete(id)) callback()
        else store.set(id, value, callback)
      }
    }
  })
}

/**
 * `session.regenerate(keys)`, bounded by the store timeout. Resolves whether the new session was left unsaved (our id
 * generator and store made it): if not, the store holds it as `regenerate()` wrote it.
 */
async function regenerate (request: FastifyRequest, session: SessionLike, keys: string[], why: 'login' | 'empty', storeTimeout: number): Promise<boolean> {
  const issuing = request as IssuingRequest
  issuing[kRegenerating] = why
  issuing[kRegeneratedId] = undefined
  let regenerated: Promise<void>
  try {
    regenerated = session.regenerate(keys)
  } finally {
    issuing[kRegenerating] = undefined
  }
  await withTimeout(regenerated, storeTimeout, 'regenerate')
  return issuing[kRegeneratedId] !== undefined && issuing[kRegeneratedId] === sessionOf(request)?.sessionId
}

/** The record read for the session id in the request's cookie, started before @fastify/session reads the session. */
const kPrefetched = Symbol('fastify-auth-helpers.prefetched')

interface Prefetched {
  handle: string
  answer: LoginRecord | null | Promise<LoginRecord | null>
}

type PrefetchingRequest = FastifyRequest & { [kPrefetched]?: Prefetched }

/**
 * The session holds only the two keys of API.md; the login itself is a record in the login store named after the
 * session id (lib/login-store.ts says why and what it holds). Login always renews the session id, so an app's own
 * `session.regenerate()` gives the session an id without a record, and ends the login; to renew the id of a
 * logged-in session, the app calls login() again, which moves the same login to the new id.
 */
function sessionOf (request: FastifyRequest): SessionLike | null {
  const session = (request as unknown as { session?: SessionLike | null }).session
  return session != null && typeof session.regenerate === 'function' ? session : null
}

function none (): null {
  return null
}

function noop (): void {}

/** How the session backend finds the login store: fixed, or the store of the app's own @fastify/session. */
export type LoginsOf = (request: FastifyRequest) => Logins

/**
 * The onRequest hook that runs before @fastify/session's: it reads the signed session id from the cookie and starts
 * reading that id's login record, so that the record and the session arrive together: an authenticated request
 * waits for one store round trip, not two in a row (issue 13's measurements: 1.8x the latency on Redis otherwise).
 * Nothing is read for a request without a validly signed cookie. The record is only used if the session that
 * @fastify/session loads has that same id; an answer nobody uses is dropped (and its failure ignored).
 */
export function prefetchLoginRecord (cookieName: string, cookiePrefix: string, signer: { prime (value: string): { valid: boolean, value: string | null } }, logins: Logins) {
  return function prefetchLoginRecord (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const raw = (request as unknown as { cookies?: Record<string, string | undefined> }).cookies?.[cookieName]
    // `<id>.<signature>`: only a login's id is worth a signature check and a read here.
    if (raw !== undefined && raw.startsWith(cookiePrefix) && raw.lastIndexOf('.') === cookiePrefix.length + LOGIN_SESSION_ID_LENGTH) {
      const unsigned = signer.prime(raw.slice(cookiePrefix.length))
      if (unsigned.valid && typeof unsigned.value === 'string') {
        // The store wrappers (lib/store.ts, lib/login-store.ts) answer a failing store with a rejection, never a throw.
        const answer = logins.read(unsigned.value)
        if (answer instanceof Promise) answer.then(noop, noop)
        ;(request as PrefetchingRequest)[kPrefetched] = { handle: unsigned.value, answer }
      }
    }
    done()
  }
}

/**
 * @param rotateOnLogin session keys holding per-session secrets (a CSRF secret): login drops them even when it keeps
 * the visitor's other data, since whoever planted or saw the anonymous session holds what they protect.
 * @param forgetCookie drops a session's cookie from the signature cache (lib/signer.ts) once its login has ended.
 */
export function createSessionBackend (storeTimeout: number, rotateOnLogin: readonly string[], loginsOf: LoginsOf, forgetCookie: (sessionId: string) => void = () => {}): Backend {
  const dropped = new Set([...AUTH_KEYS, ...rotateOnLogin])
  let warnedInsecure = false

  /** This request's login, when it is the one in this session. */
  function loginIn (request: FastifyRequest, session: SessionLike): CurrentLogin | undefined {
    const login = currentLogin(request)
    return login?.backend === 'session' && login.handle === session.sessionId ? login : undefined
  }

  /**
   * Ends the session's login and gives the request a fresh, empty session that is saved only if the route writes
   * to it. `@fastify/session` sees the new id and expires the old cookie itself.
   */
  async function flush (request: FastifyRequest, session: SessionLike): Promise<void> {
    const logins = loginsOf(request)
    // The record goes first: once it is gone the login is dead, whatever happens to the session entry after. Ended
    // even when the session names no user: an app that removed the user's key by hand left the record behind.
    const login = loginIn(request, session)
    await (login === undefined ? logins.endHandle(session.sessionId) : logins.end(login))
    setCurrentLogin(request, undefined)
    forgetCookie(session.sessionId)
    // regenerate() destroys the old session and writes the new, empty one; with the plugin's own store that write is
    // skipped, else the empty session is destroyed again, so that only a route that writes to it stores it.
    if (await regenerate(request, session, [], 'empty', storeTimeout)) return
    const store = timedStore((request as unknown as { sessionStore: SessionStore }).sessionStore, storeTimeout)
    await storeCall(store, 'destroy', (sessionOf(request) as SessionLike).sessionId)
  }

  function checked (request: FastifyRequest, session: SessionLike, userId: UserId, record: LoginRecord | null, logins: Logins): StoredLogin | Promise<null> {
    if (record === null || record.backend !== 'session' || record.userId !== userId || !logins.isLive(record)) {
      return flush(request, session).then(none)
    }
    setCurrentLogin(request, { backend: 'session', handle: session.sessionId, record })
    return { userId, authHash: record.authHash }
  }

  /** The cookie `remember` asks for: persistent for the login's lifetime, or a browser-session cookie. */
  function applyRemember (session: SessionLike, remember: boolean | null, logins: Logins, record: LoginRecord): void {
    if (remember === true) {
      session.cookie.maxAge = Math.max(1, record.expiresAt - logins.now())
    } else if (remember === false) {
      session.cookie.expires = null
      session.cookie.originalMaxAge = null
    }
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
      const logins = loginsOf(request)
      const sessionId = session.sessionId
      const prefetched = (request as PrefetchingRequest)[kPrefetched]
      ;(request as PrefetchingRequest)[kPrefetched] = undefined
      const answer = prefetched?.handle === sessionId ? prefetched.answer : logins.read(sessionId)
      if (answer instanceof Promise) return answer.then(record => checked(request, session, userId, record, logins))
      return checked(request, session, userId, answer, logins)
    },

    async login (request, plan: LoginPlan) {
      const session = sessionOf(request)
      if (session === null) throw new SessionUnavailableError()
      const logins = loginsOf(request)
      const previousUser = session[USER_ID_KEY]
      // Same visitor, same user (or nobody yet): keep their session data. Another user's data is not theirs.
      const keep = previousUser == null || String(previousUser) === String(plan.record.userId)
        ? Object.keys(session).filter(key => key !== 'cookie' && !dropped.has(key))
        : []
      const renewing = plan.renewing?.backend === 'session' ? plan.renewing : undefined
      if (renewing === undefined && previousUser != null) {
        const previous = loginIn(request, session)
        await (previous === undefined ? logins.endHandle(session.sessionId) : logins.end(previous))
      }
      setCurrentLogin(request, undefined)
      forgetCookie(session.sessionId)
      // A new session id on every login defeats session fixation, and names a record no earlier login had.
      await regenerate(request, session, keep, 'login', storeTimeout)
      const fresh = sessionOf(request) as SessionLike
      const sessionId = fresh.sessionId
      const cookieMaxAge = fresh.cookie.originalMaxAge
      if (renewing === undefined && plan.record.remember === null && typeof cookieMaxAge === 'number' && cookieMaxAge > 0) {
        // Without `remember` the configured cookie decides, and the login ends with it: a session that is saved now
        // and then (which pushes the cookie's and the store's expiry out) still ends at `cookie.maxAge` after login.
        plan.record.expiresAt = Math.min(plan.record.expiresAt, plan.record.createdAt + cookieMaxAge)
      }
      if (renewing === undefined) {
        await logins.open(sessionId, plan.record)
      } else if (!await logins.renew(renewing, sessionId, plan.record)) {
        // The login ended (a logout, endLogins) while this request was on its way: it stays ended.
        throw new UnauthorizedError()
      }
      fresh[USER_ID_KEY] = plan.record.userId
      fresh[BACKEND_KEY] = 'session'
      applyRemember(fresh, plan.record.remember, logins, plan.record)
      setCurrentLogin(request, { backend: 'session', handle: sessionId, record: plan.record })
      ;(request as MarkedRequest)[kLoginMade] = sessionId
      if (!warnedInsecure && fresh.cookie.secure === true && request.protocol !== 'https') {
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
      const made = currentLogin(request)
      setCurrentLogin(request, undefined)
      try {
        const logins = loginsOf(request)
        await (made?.handle === sessionId ? logins.end(made) : logins.endHandle(sessionId))
        // Already saved when the app's own @fastify/session ran first; nothing else names this new id.
        await storeCall(timedStore((request as unknown as { sessionStore: SessionStore }).sessionStore, storeTimeout), 'destroy', sessionId)
      } catch (err) {
        // The session naming the record was never handed out, so the record is unreachable: log and move on.
        request.log.error({ err }, 'fastify-auth-helpers: could not delete the record of a failed login')
      }
    },

    logins: loginsOf,

    storedUserId (request) {
      const session = sessionOf(request)
      const login = session === null ? undefined : loginIn(request, session)
      return login === undefined ? null : login.record.userId
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
