import { MemoryStore } from '@fastify/session'
import { LoginStoreUnsupportedError, StoreError, StoreTimeoutError } from './errors'
import { storeCall, storeGet, withTimeout, type SessionStore } from './store'
import type { LoginIndexEntry, LoginRecord as PublicLoginRecord } from '../types/index'

/**
 * # The login record
 *
 * One `request.login()` makes one *login*: a logged-in session, or a JWT login. Everything the plugin knows of it is
 * one record in the login store, and the record is the login: while it exists and its times allow, the login
 * authenticates; deleting it ends the login on every instance that shares the store, at the next request.
 *
 * - **What it holds** (`LoginRecord`): the opaque `id` shown by `listLogins` (random, never derived from a session
 *   id or token), the user's id, the auth hash (an HMAC of the user's id and password hash: a password change ends
 *   every login), the backend, four times (`createdAt`, `authenticatedAt`: the last password proof, `seenAt`: the
 *   last use, at most a minute stale, and `expiresAt`: the absolute end), `remember`, and the device (user agent
 *   and address at login).
 * - **Where**: under `auth-login:<handle>`, where the handle is what the request carries: the session id for a
 *   session login (so the record can be read at the same time as @fastify/session reads the session, from the id
 *   in the cookie: one round trip of latency), and the token's `sid` claim for a JWT login. The handle is a
 *   credential (or part of one), so it stays inside the store: `LoginInfo.id` is the record's own `id`.
 * - **How a user's logins are found**: an index per user, `auth-user:<userId>`, a map from login id to the handle
 *   and the login's `expiresAt`. Each change to it is one atomic store operation on one key (a Redis hash: HSET,
 *   HDEL, a script for the conditional ones), so concurrent logins never drop each other's entries (the get-then-set
 *   index of better-auth #11022 does). Entries of logins that expired without a logout are pruned when a login is
 *   added, so the index stays as large as the user's live logins.
 * - **Order of writes**: login writes the record, then the index entry (the other way round, an `endLogins` between
 *   the two would leave a live login no index names); ending a login removes the index entry and the record at
 *   once (`Logins.end` says why no order is needed there). A renewal (a new session id, the same login) takes the old record atomically (of a renewal and
 *   a logout, one wins), writes the new one, then *replaces* the index entry only if it is still there: an
 *   `endLogin`/`endLogins` that removed it meanwhile makes the renewal undo itself. So after `endLogins` returns, no
 *   login that was complete before it authenticates again, on any instance.
 * - **Why not in the session**: @fastify/session saves a request's session when it ends; a request that loaded the
 *   session before a logout and ends after it writes the logged-in session back (Django #21608, express-session
 *   #632). A revived session finds no record under its id and reads as anonymous.
 *
 * # The store
 *
 * The express-session interface (get/set/destroy) cannot update a record only while it exists, take one so that
 * of two takers one gets it, or change one entry of an index without rewriting it: these are what listing and
 * ending logins, idle timeouts, re-authentication and renewals need across instances. A `LoginStore` has them:
 * - the default, over @fastify/session's in-process `MemoryStore`, whose answers are synchronous, so that a read
 *   and the write that follows it happen in one turn of the event loop (atomic in one process);
 * - `createRedisLoginStore(client)` (lib/redis-login-store.ts), one Redis command or single-key script each, so it
 *   works on Redis Cluster too;
 * - any store of the app's that implements `LoginStore`.
 * With another express-session store (connect-redis, say) and no `loginStore`, records go to that store through
 * get/set/destroy, and what needs the capabilities above fails with FST_AUTH_LOGIN_STORE_UNSUPPORTED.
 */
/** `LoginRecord` and the index's entries are the public types' (types/index.d.ts), so a store of the app's matches. */
export type LoginRecord = PublicLoginRecord
export type IndexEntry = LoginIndexEntry

export interface LoginStore {
  /** Reads a record; may answer without a promise (a synchronous store), which keeps authenticated requests cheap. */
  get (key: string): LoginRecord | null | undefined | Promise<LoginRecord | null | undefined>
  /** Writes a new record that the store may forget at `expiresAt` (ms since the epoch). */
  create (key: string, record: LoginRecord, expiresAt: number): Promise<void>
  /** Removes a record (there may be none). */
  delete (key: string): Promise<void>
  /** Removes a record and resolves to it, atomically: of two takes of one record, one gets it, the other null. */
  take? (key: string): Promise<LoginRecord | null>
  /** Changes some fields of a record only if it still exists, atomically; resolves whether it did. */
  update? (key: string, fields: Partial<LoginRecord>, expiresAt: number): Promise<boolean>
  /**
   * Adds (or overwrites) an index entry and drops the entries whose `expiresAt` has passed (`now`); may resolve to
   * the dropped entries, whose records the plugin then deletes (for a store that does not expire keys by itself).
   */
  addEntry? (indexKey: string, loginId: string, entry: IndexEntry, now: number): Promise<Array<[string, IndexEntry]> | undefined | void>
  /** Overwrites an index entry only if it exists; resolves whether it did. */
  replaceEntry? (indexKey: string, loginId: string, entry: IndexEntry): Promise<boolean>
  /** Removes an index entry and resolves to it (null when there was none), atomically. */
  removeEntry? (indexKey: string, loginId: string): Promise<IndexEntry | null>
  /** Removes a whole index and resolves to its entries, atomically. */
  removeAllEntries? (indexKey: string): Promise<Array<[string, IndexEntry]>>
  /** A user's index entries. */
  entries? (indexKey: string): Promise<Array<[string, IndexEntry]>>
  /**
   * Compare-and-swap: changes some fields of a record only if it exists and its `field` still holds `expected`,
   * atomically; resolves whether it did. What spends a refresh token once, on every instance (lib/refresh.ts).
   */
  swap? (key: string, field: keyof LoginRecord, expected: unknown, fields: Partial<LoginRecord>, expiresAt: number): Promise<boolean>
}

/** A LoginStore with every capability, as the features beyond login/logout need it. */
export type FullLoginStore = Required<LoginStore>

export const CAPABILITIES = ['take', 'update', 'addEntry', 'replaceEntry', 'removeEntry', 'removeAllEntries', 'entries'] as const

export function isFullLoginStore (store: LoginStore): store is FullLoginStore {
  return CAPABILITIES.every(name => typeof store[name] === 'function')
}

/** The store, or an error naming what the caller needs and what is missing. */
export function fullStore (store: LoginStore, feature: string): FullLoginStore {
  if (isFullLoginStore(store)) return store
  throw new LoginStoreUnsupportedError(feature)
}

type Callback = (error?: unknown, value?: unknown) => void

function isEntryMap (value: unknown): value is Record<string, IndexEntry> {
  return value !== null && typeof value === 'object'
}

/** What a session store keeps for a record: the record and, for stores that expire entries by it, a cookie. */
interface StoredRecord {
  cookie: { expires: string, originalMaxAge: number }
  record: LoginRecord
}

function stored (record: LoginRecord, expiresAt: number, now: number): StoredRecord {
  // connect-redis and the like give an entry the TTL of its `cookie.expires`, as they do sessions.
  return { cookie: { expires: new Date(expiresAt).toISOString(), originalMaxAge: Math.max(1, expiresAt - now) }, record }
}

function recordOf (value: unknown): LoginRecord | null {
  const record = (value as StoredRecord | null | undefined)?.record
  return record !== null && typeof record === 'object' ? record : null
}

/**
 * The login store over an express-session store, with records and indexes as entries of it. When the store answers
 * synchronously (@fastify/session's MemoryStore), a read and the write that depends on it run in one callback chain
 * without yielding to the event loop, so each operation is atomic in the process: the store gets every capability.
 * Over any other store only get/create/delete are offered: a read-then-write there would race other instances.
 */
export function sessionStoreLogins (store: SessionStore, synchronous: boolean, now: () => number): LoginStore {
  const base: LoginStore = {
    get (key) {
      return storeGet(store, key, recordOf)
    },
    async create (key, record, expiresAt) {
      await storeCall(store, 'set', key, stored(record, expiresAt, now()))
    },
    async delete (key) {
      await storeCall(store, 'destroy', key)
    }
  }
  if (!synchronous) return base

  /** get, then `then` with the value, in the store's own callback: synchronous store, atomic sequence. */
  const withValue = <T>(key: string, then: (value: unknown, done: (error: unknown, result?: T) => void) => void): Promise<T> =>
    new Promise<T>((resolve, reject) => {
      const done = (error: unknown, result?: T): void => { if (error) reject(error); else resolve(result as T) }
      store.get(key, ((error, value) => {
        if (error && (error as { code?: unknown }).code !== 'ENOENT') done(error)
        else then(error ? undefined : value, done)
      }) as Callback)
    })
  const write = (key: string, value: unknown, done: (error: unknown) => void): void => {
    store.set(key, value, ((error: unknown) => done(error)) as Callback)
  }
  const destroy = (key: string, done: (error: unknown) => void): void => {
    store.destroy(key, ((error: unknown) => done(error)) as Callback)
  }
  const live = (entries: Record<string, IndexEntry>): Array<[string, IndexEntry]> => Object.entries(entries)

  return {
    ...base,
    take (key) {
      return withValue<LoginRecord | null>(key, (value, done) => {
        const record = recordOf(value)
        if (record === null) done(null, null)
        else destroy(key, error => done(error, record))
      })
    },
    update (key, fields, expiresAt) {
      return withValue<boolean>(key, (value, done) => {
        const record = recordOf(value)
        if (record === null) done(null, false)
        else write(key, stored({ ...record, ...fields }, expiresAt, now()), error => done(error, true))
      })
    },
    addEntry (indexKey, loginId, entry, at) {
      return withValue<Array<[string, IndexEntry]>>(indexKey, (value, done) => {
        const entries: Record<string, IndexEntry> = Object.create(null)
        const pruned: Array<[string, IndexEntry]> = []
        if (isEntryMap(value)) {
          for (const [id, other] of Object.entries(value)) {
            if (other.expiresAt > at) entries[id] = other
            else if (id !== loginId) pruned.push([id, other])
          }
        }
        entries[loginId] = entry
        write(indexKey, entries, error => done(error, pruned))
      })
    },
    replaceEntry (indexKey, loginId, entry) {
      return withValue<boolean>(indexKey, (value, done) => {
        if (!isEntryMap(value) || !Object.hasOwn(value, loginId)) {
          done(null, false)
          return
        }
        write(indexKey, { ...value, [loginId]: entry }, error => done(error, true))
      })
    },
    removeEntry (indexKey, loginId) {
      return withValue<IndexEntry | null>(indexKey, (value, done) => {
        if (!isEntryMap(value) || !Object.hasOwn(value, loginId)) {
          done(null, null)
          return
        }
        const { [loginId]: removed, ...rest } = value
        if (Object.keys(rest).length === 0) destroy(indexKey, error => done(error, removed as IndexEntry))
        else write(indexKey, rest, error => done(error, removed as IndexEntry))
      })
    },
    removeAllEntries (indexKey) {
      return withValue<Array<[string, IndexEntry]>>(indexKey, (value, done) => {
        if (!isEntryMap(value)) done(null, [])
        else destroy(indexKey, error => done(error, live(value)))
      })
    },
    entries (indexKey) {
      return withValue<Array<[string, IndexEntry]>>(indexKey, (value, done) => done(null, isEntryMap(value) ? live(value) : []))
    },
    swap (key, field, expected, fields, expiresAt) {
      return withValue<boolean>(key, (value, done) => {
        const record = recordOf(value)
        if (record === null || record[field] !== expected) done(null, false)
        else write(key, stored({ ...record, ...fields }, expiresAt, now()), error => done(error, true))
      })
    }
  }
}

/**
 * A login store in this process's memory (@fastify/session's MemoryStore), with every capability: for a single
 * instance that keeps JWT logins (refresh tokens need one), and for tests. Several instances need Redis.
 */
export function createMemoryLoginStore (options: { now?: () => number } = {}): FullLoginStore & Pick<Required<LoginStore>, 'swap'> {
  return sessionStoreLogins(new MemoryStore() as SessionStore, true, options.now ?? Date.now) as FullLoginStore & Pick<Required<LoginStore>, 'swap'>
}

/** Whether a store's answer is a promise (or any thenable) rather than the value itself. */
export function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/**
 * The app's login store with each call bounded by `ms` and each failure a 503 that keeps the store's error as its
 * cause, as the session store's are (lib/store.ts). A synchronous answer is passed on as it is.
 */
export function timedLoginStore (store: LoginStore, ms: number): LoginStore {
  const timed: Record<string, unknown> = {}
  for (const name of ['get', 'create', 'delete', ...CAPABILITIES, 'swap'] as const) {
    const method = store[name] as ((...args: unknown[]) => unknown) | undefined
    if (typeof method !== 'function') continue
    timed[name] = function (...args: unknown[]) {
      const failed = (err: unknown): never => {
        throw err instanceof StoreTimeoutError ? err : new StoreError(`login ${name}`, { cause: err })
      }
      let answer: unknown
      try {
        answer = method.apply(store, args)
      } catch (err) {
        return Promise.reject(new StoreError(`login ${name}`, { cause: err }))
      }
      if (!isThenable(answer)) return name === 'get' ? answer : Promise.resolve(answer)
      return withTimeout(Promise.resolve(answer), ms, `login ${name}`).then(undefined, failed)
    }
  }
  return timed as unknown as LoginStore
}
