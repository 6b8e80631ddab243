import type { FastifyRequest } from 'fastify'
import type { LoginRecord, UserId } from '../../types/index'
import type { Backend } from '../backend'
import { contextOf, type CurrentLogin } from '../context'
import { LoginStoreUnsupportedError } from '../errors'
import type { Logins } from '../login-store/logins'
import type { User } from '../options'
import { backendNamed, type Registration } from '../registration'
import { emit } from './events'
import { findUser, holdsLogin, logEndedLogin } from './users'

/**
 * How a login comes through the door:
 * - `login`: a new login (a password checked on this request, or the app's `login({ user })` of another user);
 * - `renewal`: the request's own login under a new session id or token, on its backend or another, its creation, end
 *   and last proof kept;
 * - `refresh`: a refresh token spent for a new access token of the same login;
 * - `proof`: the request's own login, kept, marked as having just proved its user (`reauthenticate`).
 */
export type Way = 'login' | 'renewal' | 'refresh' | 'proof'

export interface Entry {
  way: Way
  backend: Backend
  /** The user as the caller found it; null when a continued login's user is gone. */
  user: User | null
  userId: UserId
  /** The password hash a secret was checked against on this request (or upgraded to), recorded as the login's. */
  provedHash?: string
  remember?: boolean
  /** The login this entry continues: the request's own for a renewal or proof, a refresh family's for a refresh. */
  continues?: CurrentLogin
  /** A refresh: the new family fields, written only while the record still holds `expected`. */
  rotation?: { expected: string, refreshToken: string, fields: Partial<LoginRecord> }
}

/**
 * - `inactive`: the user is inactive;
 * - `stale`: the continued login's user, as stored now, is gone, inactive or has another password, and no password was
 *   checked on this request (the login is ended);
 * - `expired`: the continued login is past its end;
 * - `lost`: the continued login ended meanwhile (a logout, `endLogins`, another refresh), on any instance;
 * - `revoked`: the app's `jwt.isRevoked` refuses the token that would continue the login (the login is ended).
 */
export type Refusal = 'inactive' | 'stale' | 'expired' | 'lost' | 'revoked'

export interface Admission {
  user: User
  /** The token the backend issued (JWT), else undefined. */
  token: string | undefined
}

/**
 * The one door every login passes through: the user's validity, the lifetimes, the login record, the backend that
 * keeps it, the request's current login and user, and the events. A rule about logins lives here, and holds on
 * every way in.
 */
export async function admit (registration: Registration, request: FastifyRequest, entry: Entry): Promise<Admission | Refusal> {
  const { backend, continues, way } = entry
  const logins = backend.logins(request) ?? registration.unstored
  const { user } = entry
  // Where the continued login is kept: a renewal may move it from a session to a token, or back.
  const continued = continues === undefined ? logins : (backendNamed(registration, continues.backend).logins(request) ?? registration.unstored)
  // A login continued without a password checked on this request holds only while the user, as stored at this moment,
  // still holds it: the user object the app hands over may already carry a password set since.
  if (continues !== undefined && entry.provedHash === undefined) {
    const stored = way === 'refresh' ? user : await findUser(registration, continues.record.userId)
    if (!holdsLogin(registration, stored, continues.record.authHash)) {
      logEndedLogin(registration, request, stored, continues.record.userId)
      await continued.end(continues)
      return 'stale'
    }
  }
  if (user === null || !registration.options.isActive(user)) return 'inactive'
  if (continues !== undefined && !continued.isLive(continues.record)) return 'expired'
  const admitted = user as User
  if (way === 'proof') return await prove(admitted, continues as CurrentLogin, logins, entry.provedHash as string, registration)

  // Without a password checked now, a continued login keeps the auth hash it was made with: a password set meanwhile
  // ends it on its next request, whatever the renewal wrote.
  const authHash = continues !== undefined && entry.provedHash === undefined
    ? continues.record.authHash
    : registration.authHash(admitted, entry.provedHash)
  const remember = entry.remember
  let record: LoginRecord
  if (continues === undefined) {
    record = logins.newRecord(request, { userId: entry.userId, authHash, backend: backend.name, remember: remember ?? null })
  } else if (entry.rotation !== undefined) {
    record = { ...continues.record, ...entry.rotation.fields, seenAt: logins.now() }
  } else if (continues.backend === backend.name && continues.handle !== '') {
    record = logins.renewedRecord(continues.record, { authHash, remember })
  } else {
    // Another backend, or a token no store keeps: a new record of the same login's times.
    record = logins.continuedRecord(request, continues.record, { authHash, backend: backend.name, remember })
  }
  const rotation = entry.rotation === undefined ? undefined : { expected: entry.rotation.expected, refreshToken: entry.rotation.refreshToken }
  const opened = await backend.open(request, { record, continues, rotation })
  if (opened === 'revoked') await continued.end(continues as CurrentLogin, request)
  if (typeof opened === 'string') return opened
  contextOf(request).resolvedBy = backend.name
  request.user = admitted as typeof request.user
  if (way !== 'refresh') await emit(registration.options.onLogin, 'onLogin', { request, user: admitted, backend: backend.name })
  return { user: admitted, token: opened.token }
}

/** A proof keeps the login; a hash upgraded by the check becomes the login's, since it is the same password. */
async function prove (user: User, login: CurrentLogin, logins: Logins, provedHash: string, registration: Registration): Promise<Admission | Refusal> {
  if (login.handle === '' || !logins.full) throw new LoginStoreUnsupportedError('reauthenticate()')
  if (!await logins.proved(login, registration.authHash(user, provedHash))) return 'lost'
  return { user, token: undefined }
}
