import type { UserStore as PublicUserStore } from '../../types/index'
import { checkFunction, fail, isObject } from './check'

/** Inside the plugin a user is any object: the app's own type lives in its declaration merge. */
export type User = object
export type UserStore = PublicUserStore<User>

export interface ResolvedUsers {
  users: UserStore
  getUserId: (user: User) => unknown
  getPasswordHash: (user: User) => unknown
  isActive: (user: User) => boolean
}

/** The spellings of true that database drivers hand back for a boolean column (PostgreSQL's text 't', Oracle's 'Y'). */
const TRUE_TEXT = new Set(['1', 't', 'true', 'y', 'yes'])

/**
 * Active without the field; with it, only when it reads as true. Drivers return a false column as 0, 0n, a zero
 * BIT(1) byte, 'f', '0' or null, so unknown values fail closed (docs/security.md).
 */
export function defaultIsActive (user: User): boolean {
  const value = (user as { isActive?: unknown }).isActive
  switch (typeof value) {
    case 'undefined': return true
    case 'boolean': return value
    case 'number': return value !== 0 && !Number.isNaN(value)
    case 'bigint': return value !== 0n
    case 'string': return TRUE_TEXT.has(value.trim().toLowerCase())
    default: return value instanceof Uint8Array && value.length === 1 && value[0] !== 0
  }
}

/** `users` is the app's object (a class instance may have more methods), so only what the plugin calls is checked. */
export function resolveUsers (options: Record<string, unknown>): ResolvedUsers {
  const { users } = options
  if (!isObject(users)) fail('the `users` option (your user store) is required')
  if (typeof users.findByUsername !== 'function') fail('`users.findByUsername` must be a function')
  if (typeof users.findById !== 'function') fail('`users.findById` must be a function')
  checkFunction(users.updatePasswordHash, 'users.updatePasswordHash')
  return {
    users: users as unknown as UserStore,
    getUserId: checkFunction(options.getUserId, 'getUserId') ?? ((user: User) => (user as { id?: unknown }).id),
    getPasswordHash: checkFunction(options.getPasswordHash, 'getPasswordHash') ?? ((user: User) => (user as { password?: unknown }).password),
    isActive: checkFunction(options.isActive, 'isActive') ?? defaultIsActive
  }
}
