import type { LoginIndexEntry, LoginRecord, LoginStore } from '../../types/index'
import { LoginStoreUnsupportedError, StoreError, StoreTimeoutError } from '../errors'
import { LOGIN_STORE_METHODS } from '../options/logins'
import { withTimeout } from '../store'

export type { LoginIndexEntry, LoginRecord, LoginStore }

/** What every store can do; the rest of LoginStore only stores that keep logins exactly (docs/architecture.md). */
export type BasicLoginStore = Pick<LoginStore, 'get' | 'create' | 'delete'> & Partial<LoginStore>

export function isFullLoginStore (store: BasicLoginStore): store is LoginStore {
  return LOGIN_STORE_METHODS.every(name => typeof store[name] === 'function')
}

/** The store, or an error naming the feature that needs what it lacks. */
export function fullStore (store: BasicLoginStore, feature: string): LoginStore {
  if (isFullLoginStore(store)) return store
  throw new LoginStoreUnsupportedError(feature)
}

/** Whether an answer is a promise (or any thenable) rather than the value itself. */
export function isThenable (value: unknown): value is PromiseLike<unknown> {
  return typeof (value as { then?: unknown } | null)?.then === 'function'
}

/** The app's login store with every call bounded by `ms` and every failure a 503; a synchronous `get` stays so. */
export function timedLoginStore (store: LoginStore, ms: number): LoginStore {
  const timed: Record<string, unknown> = {}
  for (const name of [...LOGIN_STORE_METHODS, 'swap'] as const) {
    const method = store[name] as ((...args: unknown[]) => unknown) | undefined
    if (typeof method !== 'function') continue
    const operation = `Login store ${name}`
    const failed = (err: unknown): never => {
      throw err instanceof StoreTimeoutError ? err : new StoreError(operation, { cause: err })
    }
    timed[name] = function (...args: unknown[]) {
      let answer: unknown
      try {
        answer = method.apply(store, args)
      } catch (err) {
        return Promise.reject(new StoreError(operation, { cause: err }))
      }
      if (!isThenable(answer)) return name === 'get' ? answer : Promise.resolve(answer)
      return withTimeout(Promise.resolve(answer), ms, operation).then(undefined, failed)
    }
  }
  return timed as unknown as LoginStore
}
