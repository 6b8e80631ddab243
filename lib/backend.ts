import type { FastifyReply, FastifyRequest } from 'fastify'
import type { BackendName } from './constants'
import type { CurrentLogin } from './context'
import type { LoginRecord } from './login-store/contract'
import type { Logins } from './login-store/logins'
import type { UserId } from '../types/index'

/** What a backend remembers of a login: the user's id and the auth hash of the password at login time. */
export interface StoredLogin {
  userId: UserId
  authHash: unknown
}

/** What the door (lib/login/door.ts) asks a backend to keep. */
export interface LoginPlan {
  record: LoginRecord
  /** The login this one continues: moved to a new handle (a renewal), or kept in place (a refresh). */
  continues: CurrentLogin | undefined
  /** A refresh: the record is written only while it still holds `expected`, and `refreshToken` is handed out. */
  rotation?: { expected: string, refreshToken: string }
}

/** A place that keeps logins. The door owns users and the rules; a backend stores, reads and forgets. */
export interface Backend {
  readonly name: BackendName
  /** Cheap and synchronous: does this request carry a login for this backend at all? */
  carries (request: FastifyRequest): boolean
  /** The login the request carries, or null; without a promise when no I/O is needed (`instanceof Promise` tells). */
  read (request: FastifyRequest): StoredLogin | null | Promise<StoredLogin | null>
  /**
   * Keeps the login and makes it the request's; resolves to the token it issues, 'lost' when `continues` ended
   * meanwhile, 'revoked' when the app's revocation rule refuses the token that would continue it.
   */
  open (request: FastifyRequest, plan: LoginPlan): Promise<{ token: string | undefined } | 'lost' | 'revoked'>
  /** Forgets the request's login, so that nothing that carried it authenticates again. */
  logout (request: FastifyRequest): Promise<void>
  /** Where this backend keeps the request's logins; undefined when it keeps none (JWT without a login store). */
  logins (request: FastifyRequest): Logins | undefined
  /** Undoes the login this request made, because its response is a 5xx. */
  abandon? (request: FastifyRequest, reply: FastifyReply): Promise<void> | void
  /** The user id stored by `open`, unchecked, or null. */
  storedUserId (request: FastifyRequest): UserId | null
  /** The `WWW-Authenticate` challenge of a 401, for backends whose clients expect one. */
  challenge? (request: FastifyRequest): string
}
