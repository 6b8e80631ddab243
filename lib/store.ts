import { StoreError, StoreTimeoutError } from './errors'

type Callback = (error?: unknown, value?: unknown) => void

/** The part of an express-session compatible store that the plugin uses. */
export interface SessionStore {
  get (id: string, callback: Callback): void
  set (id: string, value: unknown, callback: Callback): void
  destroy (id: string, callback: Callback): void
}

const kTimed = Symbol('fastify-auth-helpers.timedStore')

export function withTimeout<T> (promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(operation, ms)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The store with every call bounded by `ms`: a store that hangs fails the request with a 503 instead of holding it
 * open forever. A call that answers after its deadline is ignored. A store's error becomes a 503 whose message
 * says only which operation failed; the original is its `cause`.
 */
export function timedStore<S extends SessionStore> (store: S, ms: number): S {
  if ((store as unknown as Record<symbol, unknown>)[kTimed] === true) return store
  const bounded = (method: 'get' | 'set' | 'destroy') => function (this: S, ...args: unknown[]): void {
    const callback = args.pop() as Callback
    let done = false
    const timer = setTimeout(() => {
      done = true
      callback(new StoreTimeoutError(method, ms))
    }, ms)
    const finish: Callback = (error, value) => {
      if (done) return
      done = true
      clearTimeout(timer)
      // @fastify/session reads a missing session as ENOENT; that one is an answer, not a failure.
      if (error && (error as { code?: unknown }).code !== 'ENOENT') callback(new StoreError(method, { cause: error }))
      else callback(error, value)
    }
    try {
      (store[method] as (...a: unknown[]) => void)(...args, finish)
    } catch (error) {
      finish(error)
    }
  }
  return Object.create(store, {
    [kTimed]: { value: true },
    get: { value: bounded('get') },
    set: { value: bounded('set') },
    destroy: { value: bounded('destroy') }
  })
}

export function storeCall (store: SessionStore, method: 'get', id: string): Promise<unknown>
export function storeCall (store: SessionStore, method: 'set', id: string, value: unknown): Promise<unknown>
export function storeCall (store: SessionStore, method: 'destroy', id: string): Promise<unknown>
export function storeCall (store: SessionStore, method: keyof SessionStore, ...args: unknown[]): Promise<unknown> {
  return new Promise((resolve, reject) => {
    (store[method] as (...a: unknown[]) => void)(...args, (error: unknown, value: unknown) => {
      if (error) reject(error)
      else resolve(value)
    })
  })
}
