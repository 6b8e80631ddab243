import { MemoryStore } from '@fastify/session'
import { storeCall, storeGet, type SessionStore } from '../store'
import type { BasicLoginStore, LoginIndexEntry, LoginRecord, LoginStore } from './contract'

type Callback = (error?: unknown, value?: unknown) => void

function isEntryMap (value: unknown): value is Record<string, LoginIndexEntry> {
  return value !== null && typeof value === 'object'
}

/** Whether the index holds `loginId`'s entry and, when `expectedHandle` is given, that entry names it. */
function holdsEntry (value: unknown, loginId: string, expectedHandle: string | undefined): value is Record<string, LoginIndexEntry> {
  return isEntryMap(value) && Object.hasOwn(value, loginId) && (expectedHandle === undefined || value[loginId]?.handle === expectedHandle)
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
 * The login store over an express-session store, records and indexes as its entries. Over a synchronous store
 * (MemoryStore) a read and the write that depends on it run in one callback chain, so every operation is atomic in the
 * process; over any other, only get, create and delete: a read-then-write there would race other instances.
 */
export function sessionStoreLogins (store: SessionStore, synchronous: boolean, now: () => number): BasicLoginStore {
  const base: BasicLoginStore = {
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
  const live = (entries: Record<string, LoginIndexEntry>): Array<[string, LoginIndexEntry]> => Object.entries(entries)

  const full: LoginStore = {
    ...base as Pick<LoginStore, 'get' | 'create' | 'delete'>,
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
      return withValue<Array<[string, LoginIndexEntry]>>(indexKey, (value, done) => {
        const entries: Record<string, LoginIndexEntry> = Object.create(null)
        const pruned: Array<[string, LoginIndexEntry]> = []
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
    replaceEntry (indexKey, loginId, entry, expectedHandle) {
      return withValue<boolean>(indexKey, (value, done) => {
        if (!holdsEntry(value, loginId, expectedHandle)) {
          done(null, false)
          return
        }
        write(indexKey, { ...value, [loginId]: entry }, error => done(error, true))
      })
    },
    removeEntry (indexKey, loginId, expectedHandle) {
      return withValue<LoginIndexEntry | null>(indexKey, (value, done) => {
        if (!holdsEntry(value, loginId, expectedHandle)) {
          done(null, null)
          return
        }
        const { [loginId]: removed, ...rest } = value
        if (Object.keys(rest).length === 0) destroy(indexKey, error => done(error, removed as LoginIndexEntry))
        else write(indexKey, rest, error => done(error, removed as LoginIndexEntry))
      })
    },
    removeAllEntries (indexKey) {
      return withValue<Array<[string, LoginIndexEntry]>>(indexKey, (value, done) => {
        if (!isEntryMap(value)) done(null, [])
        else destroy(indexKey, error => done(error, live(value)))
      })
    },
    entries (indexKey) {
      return withValue<Array<[string, LoginIndexEntry]>>(indexKey, (value, done) => done(null, isEntryMap(value) ? live(value) : []))
    },
    swap (key, field, expected, fields, expiresAt) {
      return withValue<boolean>(key, (value, done) => {
        const record = recordOf(value)
        if (record === null || record[field] !== expected) done(null, false)
        else write(key, stored({ ...record, ...fields }, expiresAt, now()), error => done(error, true))
      })
    }
  }
  return full
}

/** A login store in this process's memory, with `swap`: one instance that keeps JWT logins, and tests. */
export function createMemoryLoginStore (options: { now?: () => number } = {}): LoginStore & Required<Pick<LoginStore, 'swap'>> {
  return sessionStoreLogins(new MemoryStore() as unknown as SessionStore, true, options.now ?? Date.now) as LoginStore & Required<Pick<LoginStore, 'swap'>>
}
