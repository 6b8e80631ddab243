import { MemoryStore } from '@fastify/session'
import type { FastifyRequest } from 'fastify'
import type { SessionStore } from '../store'
import { cacheSize, checkFunction, checkObject, fail, isObject, timeout } from './check'

export type SessionSecret = string | Buffer | Array<string | Buffer> | { sign: unknown, unsign: unknown }

/** The session cookie's options, as @fastify/session takes them. */
export interface SessionCookieOptions {
  [option: string]: unknown
  path: string
  domain?: string
  secure: boolean | 'auto'
  httpOnly: boolean
  sameSite?: unknown
  partitioned?: boolean
  maxAge?: number
}

/** `session` as the plugin registers @fastify/session with it. */
export interface ResolvedSessionOptions {
  secret: SessionSecret
  algorithm: string | undefined
  cookieName: string
  cookiePrefix: string
  cookie: SessionCookieOptions
  store: SessionStore
  /** @fastify/session's MemoryStore answers synchronously, which makes the login store over it atomic. */
  synchronousStore: boolean
  idGenerator: ((request: FastifyRequest) => string) | undefined
  cacheSize: number
  /** Everything else, passed to @fastify/session as given, over the plugin's defaults. */
  rest: Record<string, unknown>
}

const SESSION_OPTIONS = ['secret', 'algorithm', 'cookieName', 'cookie', 'store', 'saveUninitialized', 'rolling', 'idGenerator', 'cookiePrefix', 'storeTimeout', 'cacheSize']
const COOKIE_OPTIONS = ['maxAge', 'expires', 'httpOnly', 'secure', 'sameSite', 'path', 'domain', 'partitioned', 'priority', 'encode', 'decode']

export function isSessionSecret (secret: unknown): secret is SessionSecret {
  if (typeof secret === 'string' || Buffer.isBuffer(secret) || Array.isArray(secret)) return true
  return isObject(secret) && typeof secret.sign === 'function' && typeof secret.unsign === 'function'
}

/** Checked whether or not the plugin registers @fastify/session: its store timeout applies to the app's too. */
export function checkSessionOptions (value: unknown): { session: Record<string, unknown> | undefined, storeTimeout: number } {
  if (value === undefined) return { session: undefined, storeTimeout: timeout(undefined, 'session.storeTimeout') }
  const session = checkObject(value, 'session', SESSION_OPTIONS, 'an object of @fastify/session options')
  // A rotation's secrets all verify cookies, so each is held to the string's minimum.
  const secrets = Array.isArray(session.secret) ? session.secret as unknown[] : [session.secret]
  if (secrets.length === 0) fail('`session.secret` is an empty array: give it at least one secret')
  if (secrets.some(secret => (typeof secret === 'string' || Buffer.isBuffer(secret)) && secret.length < 32)) {
    fail('`session.secret` must be at least 32 characters long (each of them, in a rotation)')
  }
  if (session.cookie !== undefined) checkObject(session.cookie, 'session.cookie', COOKIE_OPTIONS, 'an object of cookie options')
  return { session, storeTimeout: timeout(session.storeTimeout, 'session.storeTimeout') }
}

/** The session secret when it can key the auth hash; a rotation would end every login when its secret goes. */
export function sessionHashSecret (session: Record<string, unknown> | undefined): string | undefined {
  const secret = session?.secret
  if (Array.isArray(secret) && secret.length > 1) {
    fail('`session.secret` is an array (a rotation): also pass `authHashSecret` (32+ characters), which keys the ' +
      'password-derived auth hash, so that rotating the session secret does not end every login')
  }
  return typeof secret === 'string' ? secret : undefined
}

/** The options of the @fastify/session the plugin registers, with its defaults (docs/reference.md, "Session defaults"). */
export function resolveSessionOptions (session: Record<string, unknown>): ResolvedSessionOptions {
  const { secret, cookie, store, idGenerator, storeTimeout: _timeout, cacheSize: size, ...rest } = session
  const { algorithm, cookieName, cookiePrefix } = rest
  if (!isSessionSecret(secret)) {
    fail('`session.secret` is required: a string of 32+ characters (an array of them, newest first, to rotate), for ' +
      'example from an environment variable that is set')
  }
  if (algorithm !== undefined && typeof algorithm !== 'string') fail('`session.algorithm` must be a string')
  if (cookieName !== undefined && typeof cookieName !== 'string') fail('`session.cookieName` must be a string')
  if (cookiePrefix !== undefined && typeof cookiePrefix !== 'string') fail('`session.cookiePrefix` must be a string')
  if (store !== undefined && !(isObject(store) && typeof store.get === 'function' && typeof store.set === 'function' && typeof store.destroy === 'function')) {
    fail('`session.store` must be an express-session compatible store, with get, set and destroy')
  }
  return {
    secret,
    algorithm,
    cookieName: cookieName ?? 'sessionId',
    cookiePrefix: cookiePrefix ?? '',
    cookie: { httpOnly: true, sameSite: 'lax', path: '/', secure: true, ...(cookie as Record<string, unknown> | undefined) } as SessionCookieOptions,
    store: (store as SessionStore | undefined) ?? new MemoryStore() as unknown as SessionStore,
    synchronousStore: store === undefined || store instanceof MemoryStore,
    idGenerator: checkFunction(idGenerator, 'session.idGenerator'),
    cacheSize: cacheSize(size, 'session.cacheSize', 10_000),
    rest: { saveUninitialized: false, rolling: false, ...rest }
  }
}
