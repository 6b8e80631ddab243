import fastifyCookie from '@fastify/cookie'
import fastifySession, { MemoryStore } from '@fastify/session'
import type { FastifyInstance, FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { Backend } from '../backend'
import { contextOf } from '../context'
import { sessionStoreLogins } from '../login-store/memory'
import { Logins, type LifetimeOptions } from '../login-store/logins'
import type { ResolvedOptions } from '../options'
import type { ResolvedSessionOptions } from '../options/session'
import { timedStore, type SessionStore } from '../store'
import { createSessionBackend } from './backend'
import { expireCookieWithItsFlags } from './cookies'
import { LOGIN_SESSION_ID_LENGTH, sessionIds, type SessionIds } from './ids'
import { cachingSigner, renewRotatedCookie, type SessionSigner } from './signer'

function noop (): void {}

/** A cookie whose session has ended is checked once, found to name nothing, and not remembered. */
function forgettingMissingSessions (store: SessionStore, forget: (sessionId: string) => void): SessionStore {
  return Object.create(store, {
    get: {
      value: function get (id: string, callback: (error?: unknown, value?: unknown) => void) {
        store.get(id, (error, value) => {
          if (value == null) forget(id)
          callback(error, value)
        })
      }
    }
  })
}

/**
 * onRequest, before @fastify/session's: starts reading the login record of the session id in a valid cookie, so that
 * the record and the session arrive together (one round trip of latency, not two in a row). Only a login's id is
 * worth it; the answer is used only if @fastify/session loads that same session.
 */
function prefetchLoginRecord (cookieName: string, cookiePrefix: string, signer: SessionSigner, logins: Logins) {
  return function prefetchLoginRecord (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    const raw = (request as unknown as { cookies?: Record<string, string | undefined> }).cookies?.[cookieName]
    if (raw !== undefined && raw.startsWith(cookiePrefix) && raw.lastIndexOf('.') === cookiePrefix.length + LOGIN_SESSION_ID_LENGTH) {
      const unsigned = signer.prime(raw.slice(cookiePrefix.length))
      if (unsigned.valid) {
        // The store wrappers answer a failing store with a rejection, never a throw; nobody may wait for this one.
        const answer = logins.read(unsigned.value)
        if (answer instanceof Promise) answer.then(noop, noop)
        contextOf(request).prefetched = { handle: unsigned.value, answer }
      }
    }
    done()
  }
}

/** The login store over the app's own @fastify/session store, found from the request: one per store. */
function loginsOfAppStore (storeTimeout: number, lifetime: LifetimeOptions): { loginsOf: (request: FastifyRequest) => Logins, storeOf: (request: FastifyRequest) => SessionStore } {
  const byStore = new WeakMap<object, { logins: Logins, timed: SessionStore }>()
  const of = (request: FastifyRequest): { logins: Logins, timed: SessionStore } => {
    const store = (request as unknown as { sessionStore: SessionStore }).sessionStore
    let found = byStore.get(store)
    if (found === undefined) {
      const timed = timedStore(store, storeTimeout)
      found = { logins: new Logins(sessionStoreLogins(timed, store instanceof MemoryStore, lifetime.now), lifetime), timed }
      byStore.set(store, found)
    }
    return found
  }
  return { loginsOf: request => of(request).logins, storeOf: request => of(request).timed }
}

/** Registers @fastify/cookie and @fastify/session with the plugin's defaults and hooks. */
async function registerPluginSession (fastify: FastifyInstance, session: ResolvedSessionOptions, logins: Logins | undefined, options: ResolvedOptions, lifetime: LifetimeOptions, ids: SessionIds): Promise<{ logins: Logins, forget: (sessionId: string) => void, store: SessionStore }> {
  const { secret, cookieName, cookiePrefix } = session
  // The app's own signer object is used as it is: wrapping it would check each cookie twice.
  const signer = typeof secret === 'string' || Buffer.isBuffer(secret) || Array.isArray(secret)
    ? cachingSigner(secret, session.algorithm, session.cacheSize)
    : undefined
  const forget = session.cacheSize > 0 && signer !== undefined ? signer.forget : noop
  const timed = timedStore(session.store, options.storeTimeout)
  const kept = logins ?? new Logins(sessionStoreLogins(timed, session.synchronousStore, lifetime.now), lifetime)
  const store = ids.skippingRegenerateWrites(forget === noop ? timed : forgettingMissingSessions(timed, forget))
  if (!fastify.hasRequestDecorator('cookies')) await fastify.register(fastifyCookie)
  if (signer !== undefined) fastify.addHook('onRequest', prefetchLoginRecord(cookieName, cookiePrefix, signer, kept))
  await fastify.register(fastifySession, {
    ...session.rest,
    idGenerator: ids.idGenerator,
    secret: signer ?? secret,
    cookie: session.cookie,
    store
  } as never)
  if (signer !== undefined && Array.isArray(secret) && secret.length > 1) {
    fastify.addHook('onSend', renewRotatedCookie(cookieName, signer, cookiePrefix))
  }
  fastify.addHook('onSend', expireCookieWithItsFlags(cookieName, session.cookie))
  return { logins: kept, forget, store }
}

/**
 * The session backend, registering @fastify/session first unless the app did. Resolves to the backend and the login
 * store when it is known now: the app's `loginStore`, else the one over the session store the plugin registered.
 */
export async function registerSession (fastify: FastifyInstance, options: ResolvedOptions, lifetime: LifetimeOptions, own: Logins | undefined): Promise<{ backend: Backend | undefined, logins: Logins | undefined }> {
  if (!options.hasSession) return { backend: undefined, logins: own }
  const backendOptions = { storeTimeout: options.storeTimeout, rotateOnLogin: options.rotateOnLogin }
  if (options.session === undefined) {
    const app = loginsOfAppStore(options.storeTimeout, lifetime)
    const loginsOf = own === undefined ? app.loginsOf : () => own
    const backend = createSessionBackend({ ...backendOptions, loginsOf, storeOf: app.storeOf, ids: sessionIds(undefined), forgetCookie: noop })
    return { backend, logins: own }
  }
  const ids = sessionIds(options.session.idGenerator)
  const { logins, forget, store } = await registerPluginSession(fastify, options.session, own, options, lifetime, ids)
  const backend = createSessionBackend({ ...backendOptions, loginsOf: () => logins, storeOf: () => store, ids, forgetCookie: forget })
  return { backend, logins }
}
