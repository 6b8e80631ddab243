import type { FastifyRequest } from 'fastify'
import type { LoginRecord, UserId } from '../../types/index'
import type { Backend } from '../backend'
import { contextOf, type CurrentLogin } from '../context'
import { LoginStoreUnsupportedError } from '../errors'
import type { Logins } from '../login-store/logins'
import type { User } from '../options'
import type { Registration } from '../registration'
import { emit } from './events'
import { holdsLogin } from './users'

/**
 * How a login comes through the door:
 * - `login`: a new login (a password checked on this request, or the app's `login({ user })`);
 * - `renewal`: the request's own login under a new session id or token, its creation and last proof kept;
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
  /** The app's code gave the user (`login({ user })`): a renewal takes the user's password as it now is. */
  vouched?: boolean
  remember?: boolean
  /** The login this entry continues: the request's own for a renewal or proof, a refresh family's for a refresh. */
  continues?: CurrentLogin
  /** A refresh: the new family fields, written only while the record still holds `expected`. */
  rotation?: { expected: string, refreshToken: string, fields: Partial<LoginRecord> }
}

/**
 * - `inactive`: the user is inactive;
 * - `stale`: the continued login's user is gone, inactive or has another password, and nobody vouched for it (the
 *   login is ended);
 * - `expired`: the continued login is past its end;
 * - `lost`: the continued login ended meanwhile (a logout, `endLogins`, another refresh), on any instance.
 */
export type Refusal = 'inactive' | 'stale' | 'expired' | 'lost'

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
  // Vouched for: checked on this request, or handed over by the app's own code as it is now (it may have just changed
  // the password itself). Anything else must still hold the login it continues.
  const vouched = entry.provedHash !== undefined || entry.vouched === true
  if (continues !== undefined && !vouched && !holdsLogin(registration, user, continues.record.authHash)) {
    await logins.end(continues)
    return 'stale'
  }
  if (user === null || !registration.options.isActive(user)) return 'inactive'
  if (continues !== undefined && !logins.isLive(continues.record)) return 'expired'
  const admitted = user as User
  if (way === 'proof') return await prove(admitted, continues as CurrentLogin, logins)

  const authHash = registration.authHash(admitted, entry.provedHash)
  const remember = entry.remember
  let record: LoginRecord
  if (continues === undefined) {
    record = logins.newRecord(request, { userId: entry.userId, authHash, backend: backend.name, remember: remember ?? null })
  } else if (entry.rotation === undefined) {
    record = logins.renewedRecord(continues.record, { authHash, remember })
  } else {
    record = { ...continues.record, ...entry.rotation.fields, seenAt: logins.now() }
  }
  const rotation = entry.rotation === undefined ? undefined : { expected: entry.rotation.expected, refreshToken: entry.rotation.refreshToken }
  const token = await backend.open(request, { record, continues, rotation })
  if (token === null) return 'lost'
  contextOf(request).resolvedBy = backend.name
  request.user = admitted as typeof request.user
  if (way !== 'refresh') await emit(registration.options.onLogin, 'onLogin', { request, user: admitted, backend: backend.name })
  return { user: admitted, token }
}

async function prove (user: User, login: CurrentLogin, logins: Logins): Promise<Admission | Refusal> {
  if (login.handle === '' || !logins.full) throw new LoginStoreUnsupportedError('reauthenticate()')
  if (!await logins.proved(login)) return 'lost'
  return { user, token: undefined }
}
