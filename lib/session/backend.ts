import type { FastifyRequest } from 'fastify'
import type { Backend, LoginPlan, StoredLogin } from '../backend'
import { AUTH_HASH_KEY, BACKEND_KEY, LOGIN_NONCE_KEY, USER_ID_KEY, isValidUserId } from '../constants'
import { contextOf, peekContext, type CurrentLogin } from '../context'
import { SessionUnavailableError } from '../errors'
import type { LoginRecord } from '../login-store/contract'
import type { Logins } from '../login-store/logins'
import { storeCall, type SessionStore } from '../store'
import type { UserId } from '../../types/index'
import { dropSetCookie } from './cookies'
import type { SessionIds, SessionLike } from './ids'

// Older sessions may still hold the last two: they are not carried over.
const AUTH_KEYS = [USER_ID_KEY, BACKEND_KEY, AUTH_HASH_KEY, LOGIN_NONCE_KEY]

export interface SessionBackendOptions {
  storeTimeout: number
  /** Session keys holding per-session secrets (a CSRF secret), dropped at login even when the rest is kept. */
  rotateOnLogin: readonly string[]
  /** The login store of the request's session store. */
  loginsOf: (request: FastifyRequest) => Logins
  /** The request's session store, bounded by the store timeout. */
  storeOf: (request: FastifyRequest) => SessionStore
  ids: SessionIds
  /** Drops a session's cookie from the signature cache once its login has ended. */
  forgetCookie: (sessionId: string) => void
}

/** The session, when @fastify/session gave the request one (it leaves `{}` for a request outside the cookie path). */
function sessionOf (request: FastifyRequest): SessionLike | null {
  const session = (request as unknown as { session?: SessionLike | null }).session
  return session != null && typeof session.regenerate === 'function' ? session : null
}

function none (): null {
  return null
}

/**
 * The session holds the user's id and the backend's name; the login itself is a record named after the session id.
 * So an app's own `session.regenerate()` ends the login, and login() again renews the id of a logged-in session.
 */
export function createSessionBackend (options: SessionBackendOptions): Backend {
  const { storeTimeout, loginsOf, storeOf, ids, forgetCookie } = options
  const dropped = new Set([...AUTH_KEYS, ...options.rotateOnLogin])
  let warnedInsecure = false

  /** This request's login, when it is the one in this session. */
  function loginIn (request: FastifyRequest, session: SessionLike): CurrentLogin | undefined {
    const login = peekContext(request)?.login
    return login?.backend === 'session' && login.handle === session.sessionId ? login : undefined
  }

  /** Ends the session's login and gives the request a fresh, empty session, saved only if the route writes to it. */
  async function flush (request: FastifyRequest, session: SessionLike): Promise<void> {
    const logins = loginsOf(request)
    // The record first: once it is gone the login is dead, whatever happens to the session entry after.
    const login = loginIn(request, session)
    await (login === undefined ? logins.endHandle(session.sessionId) : logins.end(login, request))
    contextOf(request).login = undefined
    forgetCookie(session.sessionId)
    if (await ids.regenerate(request, session, [], 'empty', storeTimeout)) return
    await storeCall(storeOf(request), 'destroy', (sessionOf(request) as SessionLike).sessionId)
  }

  function checked (request: FastifyRequest, session: SessionLike, userId: UserId, record: LoginRecord | null, logins: Logins): StoredLogin | Promise<null> {
    if (record === null || record.backend !== 'session' || record.userId !== userId || !logins.isLive(record)) {
      return flush(request, session).then(none)
    }
    contextOf(request).login = { backend: 'session', handle: session.sessionId, record }
    return { userId, authHash: record.authHash }
  }

  function applyRemember (session: SessionLike, record: LoginRecord, logins: Logins): void {
    if (record.remember === true) {
      session.cookie.maxAge = Math.max(1, record.expiresAt - logins.now())
    } else if (record.remember === false) {
      session.cookie.expires = null
      session.cookie.originalMaxAge = null
    }
  }

  function warnIfInsecure (request: FastifyRequest, session: SessionLike): void {
    if (warnedInsecure || session.cookie.secure !== true || request.protocol === 'https') return
    // @fastify/session sends no Secure cookie over plain http: the login succeeds and the browser never knows.
    warnedInsecure = true
    request.log.warn('fastify-auth-helpers: a login over plain http with a Secure session cookie (the default): ' +
      'no cookie is sent, so the user stays logged out. Behind a TLS proxy, set Fastify\'s `trustProxy`; for ' +
      'local http, set `session.cookie.secure` to \'auto\' or false (docs/reference.md, "Session defaults")')
  }

  return {
    name: 'session',

    carries (request) {
      const session = (request as unknown as { session?: Record<string, unknown> | null }).session
      return session?.[USER_ID_KEY] != null
    },

    read (request) {
      const session = sessionOf(request)
      const userId = session?.[USER_ID_KEY]
      // An anonymous visitor's session and its data are not ours to flush.
      if (session == null || userId == null) return null
      if (session[BACKEND_KEY] !== 'session' || !isValidUserId(userId)) return flush(request, session).then(none)
      const logins = loginsOf(request)
      const sessionId = session.sessionId
      const context = peekContext(request)
      const prefetched = context?.prefetched
      if (prefetched !== undefined) (context as NonNullable<typeof context>).prefetched = undefined
      const answer = prefetched?.handle === sessionId ? prefetched.answer : logins.read(sessionId)
      if (answer instanceof Promise) return answer.then(record => checked(request, session, userId, record, logins))
      return checked(request, session, userId, answer, logins)
    },

    async open (request, plan: LoginPlan) {
      const session = sessionOf(request)
      if (session === null) throw new SessionUnavailableError()
      const logins = loginsOf(request)
      const context = contextOf(request)
      const { record } = plan
      const previousUser = session[USER_ID_KEY]
      // Same visitor, same user (or nobody yet): keep their session data. Another user's data is not theirs.
      const keep = previousUser == null || String(previousUser) === String(record.userId)
        ? Object.keys(session).filter(key => key !== 'cookie' && !dropped.has(key))
        : []
      const renewing = plan.continues?.backend === 'session' ? plan.continues : undefined
      if (renewing === undefined && previousUser != null) {
        const previous = loginIn(request, session)
        await (previous === undefined ? logins.endHandle(session.sessionId) : logins.end(previous, request))
      }
      context.login = undefined
      forgetCookie(session.sessionId)
      // A new id on every login defeats session fixation, and names a record no earlier login had.
      await ids.regenerate(request, session, keep, 'login', storeTimeout)
      const fresh = sessionOf(request) as SessionLike
      const cookieMaxAge = fresh.cookie.originalMaxAge
      if (renewing === undefined && record.remember === null && typeof cookieMaxAge === 'number' && cookieMaxAge > 0) {
        // Without `remember` the configured cookie decides, and the login ends with it however often it is saved.
        record.expiresAt = Math.min(record.expiresAt, record.createdAt + cookieMaxAge)
      }
      if (renewing === undefined) await logins.open(fresh.sessionId, record)
      else if (!await logins.renew(renewing, fresh.sessionId, record)) return 'lost'
      fresh[USER_ID_KEY] = record.userId
      fresh[BACKEND_KEY] = 'session'
      applyRemember(fresh, record, logins)
      context.login = { backend: 'session', handle: fresh.sessionId, record }
      context.sessionMade = fresh.sessionId
      warnIfInsecure(request, fresh)
      return { token: undefined }
    },

    async logout (request) {
      const session = sessionOf(request)
      if (session !== null) {
        await flush(request, session)
        return
      }
      // A session outside the cookie path: the login its cookie may name is out of sight, so no success is claimed. A
      // session the app destroyed itself (null) has no login left to end.
      if ((request as unknown as { session?: unknown }).session != null) throw new SessionUnavailableError()
    },

    /**
     * As Django does not save a session on a 5xx, the failed login's session is neither saved nor handed out, and its
     * record is ended so that a save landing late cannot revive it.
     */
    async abandon (request, reply) {
      const context = peekContext(request)
      const sessionId = context?.sessionMade
      if (context == null || sessionId === undefined) return
      context.sessionMade = undefined
      const session = sessionOf(request)
      if (session !== null && session.sessionId === sessionId) {
        for (const key of AUTH_KEYS) delete session[key]
        dropSetCookie(reply, (session as unknown as { encryptedSessionId: string }).encryptedSessionId)
        // @fastify/session neither saves nor sets a cookie for a request without a session.
        ;(request as unknown as { session: null }).session = null
      }
      const made = context.login
      context.login = undefined
      try {
        const logins = loginsOf(request)
        await (made?.handle === sessionId ? logins.end(made, request) : logins.endHandle(sessionId))
        // Saved already when the app's own @fastify/session ran first; nothing else names this id.
        await storeCall(storeOf(request), 'destroy', sessionId)
      } catch (err) {
        // The session naming the record was never handed out, so the record is unreachable.
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
