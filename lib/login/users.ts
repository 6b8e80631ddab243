import type { FastifyRequest } from 'fastify'
import type { UserId } from '../../types/index'
import { InvalidUserIdError, UserStoreError } from '../errors'
import { isThenable } from '../login-store/contract'
import type { User } from '../options'
import type { Registration } from '../registration'
import { sameAuthHash } from './auth-hash'

/** A user store call whose failure is a 503 keeping the store's error as cause; synchronous when the store is. */
export function askUsers<T> (method: 'findByUsername' | 'findById', call: () => T | PromiseLike<T>): T | Promise<T> {
  const fail = (err: unknown): never => { throw new UserStoreError(method, { cause: err }) }
  let answer: T | PromiseLike<T>
  try {
    answer = call()
  } catch (err) {
    return fail(err)
  }
  return isThenable(answer) ? Promise.resolve(answer).then(undefined, fail) : answer
}

function orNull (user: User | null | undefined): User | null {
  return user ?? null
}

/** The user with this id, or null; without a promise when the store answers synchronously. */
export function findUser (registration: Registration, id: UserId): User | null | Promise<User | null> {
  const found = askUsers('findById', () => registration.options.users.findById(id))
  return found instanceof Promise ? found.then(orNull) : orNull(found)
}

/**
 * Says why a login that no longer holds was ended. A changed hash is also what instances that each hashed their own
 * copy of a user, or that differ in `authHashSecret`, see of each other's logins: without this line, a silent 401.
 */
export function logEndedLogin (registration: Registration, request: FastifyRequest, user: User | null | undefined, userId: unknown): void {
  const reason = user == null
    ? 'its user is gone'
    : !registration.options.isActive(user)
        ? 'its user is inactive'
        : 'the stored password hash has changed since it was made (or this instance has another authHashSecret)'
  request.log.info({ userId }, `fastify-auth-helpers: a login was ended: ${reason}`)
}

/** Whether `user` may still hold a login made with `authHash`: there, active, and the password unchanged since. */
export function holdsLogin (registration: Registration, user: User | null | undefined, authHash: unknown): user is User {
  return user != null && registration.options.isActive(user) && sameAuthHash(authHash, registration.authHash(user))
}

/**
 * Ids a login cannot hold (a bigint column, a number past 2**53) are the app's setup at fault: a 500, never a 401 that
 * would tell a user with the right password that it was wrong.
 */
export function refuseUnstorableId (id: unknown, source: string, fix: string): void {
  if (typeof id === 'bigint') throw new InvalidUserIdError(source, 'a bigint', fix)
  if (typeof id === 'number' && Number.isInteger(id) && !Number.isSafeInteger(id)) {
    throw new InvalidUserIdError(source, 'an integer beyond Number.MAX_SAFE_INTEGER', fix)
  }
}
