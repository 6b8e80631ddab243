import type { LoginStore } from '../../types/index'
import { checkObject, fail, isObject } from './check'

const DAY = 24 * 60 * 60 * 1000

/**
 * Two weeks, as Django's SESSION_COOKIE_AGE; 12 hours for `remember: false`, since browsers that restore their tabs
 * keep "session" cookies for ever; no idle timeout unless asked; `seenAt` written at most once a minute.
 */
export const DEFAULT_LIFETIME = Object.freeze({
  maxAge: 14 * DAY,
  browserSessionMaxAge: DAY / 2,
  idleTimeout: 0,
  touchInterval: 60_000
})

export type Lifetime = { -readonly [K in keyof typeof DEFAULT_LIFETIME]: number }

const LIFETIME_NAMES = Object.keys(DEFAULT_LIFETIME) as Array<keyof Lifetime>

/** The methods every login store has; `swap` is optional (refresh tokens need it). */
export const LOGIN_STORE_METHODS = [
  'get', 'create', 'delete', 'take', 'update', 'addEntry', 'replaceEntry', 'removeEntry', 'removeAllEntries', 'entries'
] as const

export function resolveLifetime (value: unknown): Lifetime {
  if (value === undefined) return { ...DEFAULT_LIFETIME }
  const given = checkObject(value, 'logins', LIFETIME_NAMES, 'an object of login lifetimes')
  const lifetime: Lifetime = { ...DEFAULT_LIFETIME }
  for (const name of LIFETIME_NAMES) {
    const ms = given[name]
    if (ms === undefined) continue
    const allowsZero = name === 'idleTimeout'
    if (!Number.isSafeInteger(ms) || (ms as number) < (allowsZero ? 0 : 1)) {
      fail(`\`logins.${name}\` must be a ${allowsZero ? 'whole' : 'positive whole'} number of milliseconds${allowsZero ? ' (0: off)' : ''}`)
    }
    lifetime[name] = ms as number
  }
  if (given.browserSessionMaxAge === undefined) {
    lifetime.browserSessionMaxAge = Math.min(lifetime.browserSessionMaxAge, lifetime.maxAge)
  } else if (lifetime.browserSessionMaxAge > lifetime.maxAge) {
    fail('`logins.browserSessionMaxAge` must not exceed `logins.maxAge`')
  }
  // `seenAt` is written at most once per touchInterval, so a shorter idle timeout would end logins in use.
  if (lifetime.idleTimeout > 0 && lifetime.idleTimeout < 2 * lifetime.touchInterval) {
    fail('`logins.idleTimeout` must be at least twice `logins.touchInterval` (default 60000 ms), or 0 for none')
  }
  return lifetime
}

/** The app's store object: its methods are checked, not its other keys. */
export function resolveLoginStore (store: unknown): LoginStore | undefined {
  if (store === undefined) return undefined
  if (!isObject(store)) fail('`loginStore` must be a login store object (docs/lifetime.md, "Login stores")')
  for (const name of LOGIN_STORE_METHODS) {
    if (typeof store[name] !== 'function') {
      fail(`\`loginStore.${name}\` must be a function: a login store implements ${LOGIN_STORE_METHODS.join(', ')}`)
    }
  }
  if (store.swap !== undefined && typeof store.swap !== 'function') fail('`loginStore.swap` must be a function')
  return store as unknown as LoginStore
}
