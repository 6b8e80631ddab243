import { randomBytes } from 'node:crypto'
import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import type { BackendName } from './constants'
import {
  fullStore, isFullLoginStore, isThenable, type FullLoginStore, type IndexEntry, type LoginRecord, type LoginStore
} from './login-store'
import type { LoginInfo, UserId } from '../types/index'

/** The login a request carries (read in onRequest) or made (login()), until the request ends. */
export interface CurrentLogin {
  backend: BackendName
  /** Where the record is: the session id, or the token's `sid` claim. Never shown. */
  handle: string
  record: LoginRecord
}

const kLogin = Symbol('fastify-auth-helpers.login')
type LoginRequest = FastifyRequest & { [kLogin]?: CurrentLogin }

/** The request each current login belongs to, so that the event of its end can name the request that ended it. */
const requests = new WeakMap<CurrentLogin, FastifyRequest>()

export function currentLogin (request: FastifyRequest): CurrentLogin | undefined {
  return (request as LoginRequest)[kLogin]
}

export function setCurrentLogin (request: FastifyRequest, login: CurrentLogin | undefined): void {
  (request as LoginRequest)[kLogin] = login
  if (login !== undefined) requests.set(login, request)
}

/**
 * Why a login ended, as `onLoginEnded` reports it: `logout` (the login's own request ended it: logout(), a login()
 * that replaced it, its user found gone, inactive or with another password), `ended` (endLogin), `ended-others`
 * (endOtherLogins), `ended-all` (endLogins), `expired` (found past its end: on its next request, in a listing, or
 * when a new login of the user prunes the index).
 */
export type EndReason = 'logout' | 'ended' | 'ended-others' | 'ended-all' | 'expired'

export interface LoginEndedEvent {
  /** The request that ended the login, when one did (not enumerable, like every event's request); else null. */
  request: FastifyRequest | null
  userId: UserId
  /** The login's `LoginInfo.id`. */
  loginId: string
  backend: BackendName
  reason: EndReason
}

/**
 * The app's `onLoginEnded` listener, called without being awaited (ending a hundred logins does not wait for a
 * hundred listeners) and with its failures logged: a listener never undoes an end nor fails the request.
 */
export function loginEndedListener (hook: ((event: LoginEndedEvent) => unknown) | undefined, log: FastifyBaseLogger): ((event: LoginEndedEvent) => void) | undefined {
  if (hook === undefined) return undefined
  return function loginEnded (event) {
    const logger = event.request?.log ?? log
    const failed = (err: unknown): void => { logger.error({ err }, 'fastify-auth-helpers: the onLoginEnded listener threw') }
    Object.defineProperty(event, 'request', { enumerable: false })
    try {
      const answer = hook(event)
      if (isThenable(answer)) Promise.resolve(answer).then(undefined, failed)
    } catch (err) {
      failed(err)
    }
  }
}

/** What the public API shows of a login: nothing from which its session id or token could be derived. */
export type { LoginInfo }

export interface LifetimeOptions {
  /** Absolute lifetime of a login made with `remember: true` or without `remember` (ms). */
  maxAge: number
  /** Absolute lifetime of a login made with `remember: false` (ms). */
  browserSessionMaxAge: number
  /** A login unused for this long ends (ms); 0: no idle timeout. */
  idleTimeout: number
  /** `seenAt` is written at most this often per login (ms). */
  touchInterval: number
  /** The one clock every login time is read from (ms since the epoch). */
  now: () => number
  /** Told of each login that ends, once (see `report`). */
  ended?: (event: LoginEndedEvent) => void
}

const DEVICE_TEXT_LIMIT = 256

function deviceText (value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return null
  return value.length > DEVICE_TEXT_LIMIT ? value.slice(0, DEVICE_TEXT_LIMIT) : value
}

export function recordKey (handle: string): string {
  return `auth-login:${handle}`
}

/** One index per user id, whatever its type: login() takes 7 and '7' for the same user, and so does this. */
export function indexKey (userId: UserId): string {
  return `auth-user:${String(userId)}`
}

export function newLoginId (): string {
  return randomBytes(16).toString('base64url')
}

/**
 * Everything done with login records, over one login store: the backends call it to make, renew, read and end
 * their logins, and the login-management functions to list and end a user's logins. See lib/login-store.ts for the
 * layout and the order of writes that keeps it exact under concurrency.
 */
export class Logins {
  constructor (readonly store: LoginStore, readonly lifetime: LifetimeOptions) {}

  /** Whether the store can list, end, renew and update logins exactly (every LoginStore capability). */
  get full (): boolean {
    return isFullLoginStore(this.store)
  }

  now (): number {
    return this.lifetime.now()
  }

  /** The record under a handle; without a promise when the store answers synchronously. */
  read (handle: string): LoginRecord | null | Promise<LoginRecord | null> {
    const answer = this.store.get(recordKey(handle))
    if (isThenable(answer)) return Promise.resolve(answer).then(value => value ?? null)
    return answer ?? null
  }

  /** When the store may forget the record: its absolute end, or sooner when it would be idle by then. */
  expiryOf (record: LoginRecord): number {
    const { idleTimeout } = this.lifetime
    return idleTimeout > 0 ? Math.min(record.expiresAt, record.seenAt + idleTimeout) : record.expiresAt
  }

  /** The sooner of the absolute end and the idle end, as `LoginInfo.expiresAt` reports it. */
  endOf (record: LoginRecord): number {
    return this.expiryOf(record)
  }

  /** Whether a record read from the store still authenticates, by its times alone. */
  isLive (record: LoginRecord, now = this.now()): boolean {
    return now < this.endOf(record)
  }

  lifetimeOf (remember: boolean | null): number {
    return remember === false ? this.lifetime.browserSessionMaxAge : this.lifetime.maxAge
  }

  /** A new login's record: its own id, now as every time, the device it was made from. */
  newRecord (request: FastifyRequest, fields: { userId: UserId, authHash: string, backend: BackendName, remember: boolean | null }): LoginRecord {
    const now = this.now()
    return {
      id: newLoginId(),
      userId: fields.userId,
      authHash: fields.authHash,
      backend: fields.backend,
      createdAt: now,
      authenticatedAt: now,
      seenAt: now,
      expiresAt: now + this.lifetimeOf(fields.remember),
      remember: fields.remember,
      userAgent: deviceText(request.headers['user-agent']),
      ip: deviceText(request.ip)
    }
  }

  /**
   * The record of the same login under a new handle: its id, creation and last password proof are kept, so a
   * renewal never extends the absolute lifetime (which counts from `createdAt`).
   */
  renewedRecord (previous: LoginRecord, fields: { authHash: string, remember: boolean | undefined }): LoginRecord {
    const remember = fields.remember ?? previous.remember
    return {
      ...previous,
      authHash: fields.authHash,
      remember,
      seenAt: this.now(),
      // A changed `remember` changes the lifetime, still counted from the login's creation.
      expiresAt: remember === previous.remember ? previous.expiresAt : previous.createdAt + this.lifetimeOf(remember)
    }
  }

  /** Stores a new login: the record first, then its index entry (see lib/login-store.ts). */
  async open (handle: string, record: LoginRecord): Promise<void> {
    await this.store.create(recordKey(handle), record, this.expiryOf(record))
    const { store } = this
    if (isFullLoginStore(store)) {
      const pruned = await store.addEntry(indexKey(record.userId), record.id, { handle, expiresAt: record.expiresAt }, this.now())
      // The records of the logins that expired without a logout go with their entries: a store that does not expire
      // entries by itself (the MemoryStore) would otherwise keep them for ever.
      if (Array.isArray(pruned)) await Promise.all(pruned.map(([, entry]) => this.dropExpired(entry.handle, null)))
    }
  }

  /**
   * Tells the app's listener that a login ended. Called by whoever removed the login's index entry (each removal is
   * atomic, so once per login on every instance), or, on a store without an index, by the request that ended it.
   */
  private report (record: LoginRecord, reason: EndReason, request: FastifyRequest | null | undefined): void {
    this.lifetime.ended?.({ request: request ?? null, userId: record.userId, loginId: record.id, backend: record.backend, reason })
  }

  /**
   * Deletes the record of a login whose index entry said it was past its absolute end, and reports it. Nothing can
   * bring such a login back (a renewal needs it live, and keeps its end), so it is taken without a second look.
   */
  private async dropExpired (handle: string, request: FastifyRequest | null): Promise<void> {
    const record = await (this.store as FullLoginStore).take(recordKey(handle))
    if (record !== null) this.report(record, 'expired', request)
  }

  /**
   * Moves a login to a new handle, or resolves false when the login ended meanwhile (a logout, `endLogin`,
   * `endLogins`, on any instance), leaving nothing behind: the old record is taken atomically, so of a renewal and a
   * logout one wins; the index entry is replaced only if it is still there, so an `endLogins` that removed it since
   * undoes the renewal.
   */
  async renew (previous: CurrentLogin, handle: string, record: LoginRecord): Promise<boolean> {
    const { store } = this
    if (!isFullLoginStore(store)) {
      // An express-session store can only read, then delete: a logout on another instance between the two is not
      // seen (README, "Login stores"). In one process the read sees any logout that has finished.
      const answer = store.get(recordKey(previous.handle))
      const found = isThenable(answer) ? await answer : answer
      if (found == null || found.id !== previous.record.id) return false
      await store.delete(recordKey(previous.handle))
      await store.create(recordKey(handle), record, this.expiryOf(record))
      return true
    }
    const taken = await store.take(recordKey(previous.handle))
    if (taken === null || taken.id !== previous.record.id) return false
    await store.create(recordKey(handle), record, this.expiryOf(record))
    const entry: IndexEntry = { handle, expiresAt: record.expiresAt }
    if (await store.replaceEntry(indexKey(record.userId), record.id, entry)) return true
    await store.delete(recordKey(handle))
    return false
  }

  /**
   * Ends a login: its index entry and the record under the handle this request knows go at the same time (one round
   * trip), then the record under the handle the entry named, if a renewal on another request moved the login there.
   * The two first need no order: a renewal that took the record first finds its index entry gone and undoes itself,
   * or had replaced it already, and then the entry names the new handle, deleted after. Whichever of the two fails,
   * the logout fails; if it is the record's, the login lives on, as it would have in sequence.
   */
  async end (login: { handle: string, record: LoginRecord }): Promise<void> {
    const { store } = this
    const reason = this.isLive(login.record) ? 'logout' : 'expired'
    const request = requests.get(login as CurrentLogin)
    if (!isFullLoginStore(store)) {
      await store.delete(recordKey(login.handle))
      this.report(login.record, reason, request)
      return
    }
    const [entry] = await Promise.all([
      store.removeEntry(indexKey(login.record.userId), login.record.id),
      store.delete(recordKey(login.handle))
    ])
    if (entry !== null && entry.handle !== login.handle) await store.delete(recordKey(entry.handle))
    if (entry !== null) this.report(login.record, reason, request)
  }

  /** Ends the record under a handle whatever login it holds (a session whose record names another login). */
  async endHandle (handle: string): Promise<void> {
    const { store } = this
    if (!isFullLoginStore(store)) {
      await store.delete(recordKey(handle))
      return
    }
    const record = await store.take(recordKey(handle))
    if (record !== null) await this.end({ handle, record })
  }

  /** Ends one login of a user by its public id; false when the user has no such login. */
  async endById (userId: UserId, loginId: string, request?: FastifyRequest): Promise<boolean> {
    const store = fullStore(this.store, 'endLogin()')
    const entry = await store.removeEntry(indexKey(userId), loginId)
    if (entry === null) return false
    const record = await store.take(recordKey(entry.handle))
    if (record === null) return false
    const live = this.isLive(record)
    this.report(record, live ? 'ended' : 'expired', request)
    return live
  }

  /**
   * Ends every login of a user, or every one but `keep`, and resolves to how many were live. Index entries go first,
   * each atomically: a renewal that comes later finds no entry and undoes itself; logins made later are not ended.
   */
  async endAll (userId: UserId, keep?: CurrentLogin, request?: FastifyRequest): Promise<number> {
    const store = fullStore(this.store, keep === undefined ? 'endLogins()' : 'endOtherLogins()')
    const key = indexKey(userId)
    const removed: IndexEntry[] = []
    if (keep === undefined) {
      for (const [, entry] of await store.removeAllEntries(key)) removed.push(entry)
    } else {
      await Promise.all((await store.entries(key)).map(async ([id]) => {
        if (id === keep.record.id) return
        const entry = await store.removeEntry(key, id)
        if (entry !== null) removed.push(entry)
      }))
    }
    const now = this.now()
    const records = await Promise.all(removed.map(entry => store.take(recordKey(entry.handle))))
    let live = 0
    for (const record of records) {
      if (record === null) continue
      const isLive = this.isLive(record, now)
      if (isLive) live++
      this.report(record, !isLive ? 'expired' : keep === undefined ? 'ended-all' : 'ended-others', request)
    }
    return live
  }

  /** A user's live logins, newest first; entries whose record has gone are dropped from the index. */
  async list (userId: UserId, current?: CurrentLogin): Promise<LoginInfo[]> {
    const store = fullStore(this.store, 'listLogins()')
    const key = indexKey(userId)
    const now = this.now()
    const found = await Promise.all((await store.entries(key)).map(async ([id, entry]) => {
      const answer = store.get(recordKey(entry.handle))
      const record = isThenable(answer) ? await answer : answer
      if (record == null || record.id !== id || !this.isLive(record, now)) {
        // A login that expired (or whose record a crash left behind) leaves the index. Only the entry that was read.
        if (record == null || record.id !== id || now >= record.expiresAt) {
          const expired = record != null && record.id === id
          await this.dropStale(key, id, entry, expired, current === undefined ? null : requests.get(current) ?? null)
        }
        return null
      }
      return record
    }))
    return found
      .filter((record): record is LoginRecord => record !== null)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map(record => this.info(record, current?.record.id === record.id))
  }

  /** Removes an index entry that names no live login, unless a renewal moved it meanwhile. */
  private async dropStale (key: string, id: string, entry: IndexEntry, expired: boolean, request: FastifyRequest | null): Promise<void> {
    const store = fullStore(this.store, 'listLogins()')
    const removed = await store.removeEntry(key, id)
    if (removed === null) return
    if (removed.handle !== entry.handle) await store.addEntry(key, id, removed, this.now())
    else if (expired) await this.dropExpired(entry.handle, request)
  }

  info (record: LoginRecord, current: boolean): LoginInfo {
    return {
      id: record.id,
      backend: record.backend,
      createdAt: new Date(record.createdAt),
      lastSeenAt: new Date(record.seenAt),
      expiresAt: new Date(this.endOf(record)),
      userAgent: record.userAgent,
      ip: record.ip,
      current
    }
  }

  /** Whether `seenAt` is due to be written (at most once per `touchInterval`). */
  dueForTouch (login: CurrentLogin, now = this.now()): boolean {
    return this.full && now - login.record.seenAt >= this.lifetime.touchInterval
  }

  /** Writes `seenAt` (and, with an idle timeout, the store's expiry) if the login still exists. */
  async touch (login: CurrentLogin): Promise<void> {
    const store = fullStore(this.store, 'lastSeenAt')
    const seenAt = this.now()
    const record = { ...login.record, seenAt }
    if (await store.update(recordKey(login.handle), { seenAt }, this.expiryOf(record))) login.record = record
  }

  /** Marks a login as having just proved its password; false when the login ended meanwhile. */
  async reauthenticated (login: CurrentLogin): Promise<boolean> {
    const store = fullStore(this.store, 'reauthenticate()')
    const now = this.now()
    const record = { ...login.record, authenticatedAt: now, seenAt: now }
    const updated = await store.update(recordKey(login.handle), { authenticatedAt: now, seenAt: now }, this.expiryOf(record))
    if (updated) login.record = record
    return updated
  }
}
