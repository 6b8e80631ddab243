import { createHmac, randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import type { LoginEndedEvent, LoginEndReason, LoginInfo, UserId } from '../../types/index'
import type { BackendName } from '../constants'
import type { CurrentLogin } from '../context'
import type { Lifetime } from '../options/logins'
import { fullStore, isFullLoginStore, isThenable, type BasicLoginStore, type LoginIndexEntry, type LoginRecord, type LoginStore } from './contract'

export interface LifetimeOptions extends Lifetime {
  now: () => number
  /** The registration's tag in its index keys (`indexScope`): two registrations never share a user's index. */
  scope: string
  /** Told of each login that ends, once. */
  ended?: (event: LoginEndedEvent) => void
}

const DEVICE_TEXT_LIMIT = 256
/** How often ending a login follows its index entry to where a renewal moved it, at most. */
const MAX_ENTRY_MOVES = 3

function deviceText (value: unknown): string | null {
  if (typeof value !== 'string' || value.length === 0) return null
  return value.length > DEVICE_TEXT_LIMIT ? value.slice(0, DEVICE_TEXT_LIMIT) : value
}

export function recordKey (handle: string): string {
  return `auth-login:${handle}`
}

/**
 * A registration's tag in the index keys: derived from its auth hash key, so every instance of one app (and every
 * restart) finds the same index, and two registrations with their own users (which must have their own keys,
 * docs/registering.md) never list or end each other's user 3. Not a secret: the HMAC keeps the key out of Redis.
 */
export function indexScope (authHashSecret: string | Buffer): string {
  return createHmac('sha256', authHashSecret).update('fastify-auth-helpers:login-index').digest('base64url').slice(0, 16)
}

/** One index per registration and user id whatever its type: login() takes 7 and '7' for the same user. */
export function indexKey (scope: string, userId: UserId): string {
  return `auth-user:${scope}:${String(userId)}`
}

/**
 * The login records of one store: made, renewed, read, ended, listed. The order of writes that keeps this exact under
 * concurrency is in docs/architecture.md ("The login record").
 */
export class Logins {
  constructor (readonly store: BasicLoginStore, readonly lifetime: LifetimeOptions) {}

  /** The key of a user's index in this registration. */
  indexKey (userId: UserId): string {
    return indexKey(this.lifetime.scope, userId)
  }

  /** Whether the store can list, end, renew and update logins exactly. */
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

  /** The sooner of the absolute end and the idle end: when the store may forget the record, and `expiresAt`. */
  endOf (record: LoginRecord): number {
    const { idleTimeout } = this.lifetime
    return idleTimeout > 0 ? Math.min(record.expiresAt, record.seenAt + idleTimeout) : record.expiresAt
  }

  isLive (record: LoginRecord, now = this.now()): boolean {
    return now < this.endOf(record)
  }

  lifetimeOf (remember: boolean | null): number {
    return remember === false ? this.lifetime.browserSessionMaxAge : this.lifetime.maxAge
  }

  newRecord (request: FastifyRequest, fields: { userId: UserId, authHash: string, backend: BackendName, remember: boolean | null }): LoginRecord {
    const now = this.now()
    return {
      id: randomBytes(16).toString('base64url'),
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

  /** The same login under a new handle: id, creation and last proof kept, so the absolute lifetime never grows. */
  renewedRecord (previous: LoginRecord, fields: { authHash: string, remember: boolean | undefined }): LoginRecord {
    const remember = fields.remember ?? previous.remember
    return {
      ...previous,
      authHash: fields.authHash,
      remember,
      seenAt: this.now(),
      expiresAt: remember === previous.remember ? previous.expiresAt : previous.createdAt + this.lifetimeOf(remember)
    }
  }

  /**
   * The same login kept by another backend, or by a token no store keeps: a new id and this device, the creation, end
   * and last proof of the login it continues, so that hopping between backends neither refreshes a proof nor outlives
   * the login.
   */
  continuedRecord (request: FastifyRequest, previous: LoginRecord, fields: { authHash: string, backend: BackendName, remember: boolean | undefined }): LoginRecord {
    const renewed = this.renewedRecord(previous, fields)
    const made = this.newRecord(request, { userId: previous.userId, authHash: fields.authHash, backend: fields.backend, remember: renewed.remember })
    return { ...made, createdAt: previous.createdAt, authenticatedAt: previous.authenticatedAt, expiresAt: renewed.expiresAt }
  }

  /** A new login: the record, then its index entry. */
  async open (handle: string, record: LoginRecord): Promise<void> {
    const { store } = this
    await store.create(recordKey(handle), record, this.endOf(record))
    if (!isFullLoginStore(store)) return
    const pruned = await store.addEntry(this.indexKey(record.userId), record.id, { handle, expiresAt: record.expiresAt }, this.now())
    // A store that does not expire keys by itself (MemoryStore) would keep these records for ever.
    if (Array.isArray(pruned)) await Promise.all(pruned.map(([, entry]) => this.dropExpired(store, entry.handle, null)))
  }

  /** Called by whoever removed the login's index entry, which happens once per login, on every instance. */
  private report (record: LoginRecord, reason: LoginEndReason, request: FastifyRequest | null | undefined): void {
    this.lifetime.ended?.({ request: request ?? null, userId: record.userId, loginId: record.id, backend: record.backend, reason })
  }

  /** Nothing revives a login past its absolute end, so its record is taken without a second look. */
  private async dropExpired (store: Pick<Required<BasicLoginStore>, 'take'>, handle: string, request: FastifyRequest | null): Promise<void> {
    const record = await store.take(recordKey(handle))
    if (record !== null) this.report(record, 'expired', request)
  }

  /** Moves a login to a new handle; false, leaving nothing behind, when it ended meanwhile on any instance. */
  async renew (previous: CurrentLogin, handle: string, record: LoginRecord): Promise<boolean> {
    const { store } = this
    if (!isFullLoginStore(store)) {
      // Read, then delete: a logout on another instance between the two is not seen (docs/lifetime.md, "Login stores").
      const answer = store.get(recordKey(previous.handle))
      const found = isThenable(answer) ? await answer : answer
      if (found == null || found.id !== previous.record.id) return false
      await store.delete(recordKey(previous.handle))
      await store.create(recordKey(handle), record, this.endOf(record))
      return true
    }
    // The new record, then the entry moved to it, then the old record taken: at every step the entry names a record
    // that exists, so a listing or an end in between finds the login, and an end that takes the old record first
    // follows the entry to the new one.
    await store.create(recordKey(handle), record, this.endOf(record))
    const moved = await store.replaceEntry(this.indexKey(record.userId), record.id, { handle, expiresAt: record.expiresAt }, previous.handle)
    const taken = moved ? await store.take(recordKey(previous.handle)) : null
    if (taken !== null && taken.id === previous.record.id) return true
    // Ended meanwhile (or renewed by a twin request): whoever took the old record ends the entry too.
    await store.delete(recordKey(handle))
    return false
  }

  /**
   * Ends a login: its index entry and its record at once, then the record a renewal may have moved it to. Reported as
   * `because` (the login's own request by default), or `expired` when it was found past its end.
   */
  async end (login: { handle: string, record: LoginRecord }, request?: FastifyRequest, because: 'logout' | 'reused' = 'logout'): Promise<void> {
    const { store } = this
    const reason = this.isLive(login.record) ? because : 'expired'
    if (!isFullLoginStore(store)) {
      await store.delete(recordKey(login.handle))
      this.report(login.record, reason, request)
      return
    }
    // Both at once (a logout costs one round trip of the two): a store failing between them may leave a live record
    // whose entry is gone (docs/logins.md, SECURITY.md row 34).
    const [entry] = await Promise.all([
      store.removeEntry(this.indexKey(login.record.userId), login.record.id),
      store.delete(recordKey(login.handle))
    ])
    if (entry !== null && entry.handle !== login.handle) await store.delete(recordKey(entry.handle))
    if (entry !== null) this.report(login.record, reason, request)
  }

  /** Ends the record under a handle, whatever login it holds. */
  async endHandle (handle: string): Promise<void> {
    const { store } = this
    if (!isFullLoginStore(store)) {
      await store.delete(recordKey(handle))
      return
    }
    const record = await store.take(recordKey(handle))
    if (record !== null) await this.end({ handle, record })
  }

  /** Ends one login of a user by its public id; false when the user has no such live login. */
  async endById (userId: UserId, loginId: string, request?: FastifyRequest): Promise<boolean> {
    const store = fullStore(this.store, 'endLogin()')
    const key = this.indexKey(userId)
    const found = (await store.entries(key)).find(([id]) => id === loginId)
    if (found === undefined) return false
    const record = await this.endEntry(store, key, loginId, found[1])
    if (record == null) return false
    const live = this.isLive(record)
    this.report(record, live ? 'ended' : 'expired', request)
    return live
  }

  /** Ends every login of a user, or every one but `keep`; resolves to how many were live. */
  async endAll (userId: UserId, keep?: CurrentLogin, request?: FastifyRequest): Promise<number> {
    const store = fullStore(this.store, keep === undefined ? 'endLogins()' : 'endOtherLogins()')
    const key = this.indexKey(userId)
    const entries = (await store.entries(key)).filter(([id]) => id !== keep?.record.id)
    const records = await Promise.all(entries.map(([id, entry]) => this.endEntry(store, key, id, entry)))
    const now = this.now()
    let live = 0
    for (const record of records) {
      if (record == null) continue
      const isLive = this.isLive(record, now)
      if (isLive) live++
      this.report(record, !isLive ? 'expired' : keep === undefined ? 'ended-all' : 'ended-others', request)
    }
    return live
  }

  /**
   * Ends the login an index entry names: its record first, then the entry, only while the entry still names that
   * record; an entry a renewal moved meanwhile is followed to the new record. So a failure at any point leaves the
   * login ended (a leftover entry, which listing drops) or still in the index, never live and unlisted. Resolves to the
   * record taken when this call removed the entry (whoever removes it reports the end), else undefined.
   */
  private async endEntry (store: LoginStore, key: string, id: string, entry: LoginIndexEntry): Promise<LoginRecord | null | undefined> {
    let handle = entry.handle
    let taken: LoginRecord | null = null
    // A renewal moves the entry, then takes the old record: once this loop has taken a record, the renewal from it
    // fails and the entry moves no further, so two rounds end any login (a third covers a renewal that completed
    // between this loop's commands).
    for (let round = 0; round < MAX_ENTRY_MOVES; round++) {
      taken = await store.take(recordKey(handle)) ?? taken
      const removed = await store.removeEntry(key, id, handle)
      if (removed !== null) {
        // A store that removed the entry whatever it named: the record it named is taken too.
        if (removed.handle !== handle) taken = await store.take(recordKey(removed.handle)) ?? taken
        return taken
      }
      const moved = (await store.entries(key)).find(([other]) => other === id)?.[1]
      if (moved === undefined) return undefined
      handle = moved.handle
    }
    return undefined
  }

  /** A user's live logins, newest first; entries whose record has gone leave the index. */
  async list (userId: UserId, current?: CurrentLogin, request?: FastifyRequest): Promise<LoginInfo[]> {
    const store = fullStore(this.store, 'listLogins()')
    const key = this.indexKey(userId)
    const now = this.now()
    const found = await Promise.all((await store.entries(key)).map(async ([id, entry]) => {
      const answer = store.get(recordKey(entry.handle))
      const record = isThenable(answer) ? await answer : answer
      if (record != null && record.id === id && this.isLive(record, now)) return record
      // A login past its absolute end, or whose record a crash left behind, leaves the index: only the entry read.
      if (record == null || record.id !== id || now >= record.expiresAt) {
        await this.dropStale(store, key, id, entry, record != null && record.id === id, request ?? null)
      }
      return null
    }))
    return found
      .filter((record): record is LoginRecord => record !== null)
      .sort((a, b) => b.createdAt - a.createdAt)
      .map(record => this.info(record, current?.record.id === record.id))
  }

  /**
   * Removes an index entry that names no live login, only while it still names the handle found stale: an entry a
   * renewal moved meanwhile stays, and is never out of the index for an endOtherLogins to miss.
   */
  private async dropStale (store: LoginStore, key: string, id: string, entry: LoginIndexEntry, expired: boolean, request: FastifyRequest | null): Promise<void> {
    const removed = await store.removeEntry(key, id, entry.handle)
    if (removed === null) return
    // A store that ignored `expectedHandle` removed a moved entry: put it back rather than lose the login.
    if (removed.handle !== entry.handle) await store.addEntry(key, id, removed, this.now())
    else if (expired) await this.dropExpired(store, entry.handle, request)
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

  /** Whether `seenAt` is due (at most once per `touchInterval`). */
  dueForTouch (login: CurrentLogin, now = this.now()): boolean {
    return this.full && now - login.record.seenAt >= this.lifetime.touchInterval
  }

  /** Writes `seenAt` (and with an idle timeout the store's expiry) if the login still exists. */
  async touch (login: CurrentLogin): Promise<void> {
    const store = fullStore(this.store, 'lastSeenAt')
    const seenAt = this.now()
    const record = { ...login.record, seenAt }
    if (await store.update(recordKey(login.handle), { seenAt }, this.endOf(record))) login.record = record
  }

  /** Writes a refresh family's new token in place, only while the record still holds `expected`; false otherwise. */
  async rotate (handle: string, expected: string, record: LoginRecord): Promise<boolean> {
    const { refreshHash, refreshExpiresAt, refreshSpent, seenAt } = record
    const swap = (this.store as Required<BasicLoginStore>).swap
    return await swap.call(this.store, recordKey(handle), 'refreshHash', expected, { refreshHash, refreshExpiresAt, refreshSpent, seenAt }, this.endOf(record))
  }

  /** Marks a login as having just proved its user with the password `authHash` was made of; false when it ended meanwhile. */
  async proved (login: CurrentLogin, authHash: string): Promise<boolean> {
    const store = fullStore(this.store, 'reauthenticate()')
    const now = this.now()
    const record = { ...login.record, authHash, authenticatedAt: now, seenAt: now }
    const updated = await store.update(recordKey(login.handle), { authHash, authenticatedAt: now, seenAt: now }, this.endOf(record))
    if (updated) login.record = record
    return updated
  }
}
