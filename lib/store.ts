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

const wrappers = new WeakMap<object, { ms: number, wrapper: SessionStore }>()

/**
 * The store with every call bounded by `ms`: a store that hangs fails the request with a 503 instead of holding it
 * open forever. A call that answers after its deadline is ignored. A store's error becomes a 503 whose message
 * says only which operation failed; the original is its `cause`.
 *
 * Each store is wrapped once per timeout, not once per call: an app that registered @fastify/session itself hands its
 * store over on every request, and the session backend used to wrap it anew each time (an object and three closures).
 */
export function timedStore<S extends SessionStore> (store: S, ms: number): S {
  if ((store as unknown as Record<symbol, unknown>)[kTimed] === true) return store
  const cached = wrappers.get(store)
  if (cached !== undefined && cached.ms === ms) return cached.wrapper as S
  const bounded = (method: 'get' | 'set' | 'destroy') => function (this: S, ...args: unknown[]): void {
    const callback = args.pop() as Callback
    let done = false
    let timer: NodeJS.Timeout | undefined
    const finish: Callback = (error, value) => {
      if (done) return
      done = true
      if (timer !== undefined) clearTimeout(timer)
      // @fastify/session reads a missing session as ENOENT; that one is an answer, not a failure.
      if (error && (error as { code?: unknown }).code !== 'ENOENT') callback(new StoreError(method, { cause: error }))
      else callback(error, value)
    }
    try {
      (store[method] as (...a: unknown[]) => void)(...args, finish)
    } catch (error) {
      finish(error)
    }
    // Only a call still pending needs a deadline. A store that answers synchronously (MemoryStore) would otherwise
    // pay for a timer per call, twice per authenticated request: Node creates and schedules a timer list each time,
    // because the previous request's timers were all cleared (bench/README.md, "What the profiles showed").
    if (!done) {
      timer = setTimeout(() => {
        done = true
        callback(new StoreTimeoutError(method, ms))
      }, ms)
    }
  }
  const wrapper: S = Object.create(store, {
    [kTimed]: { value: true },
    get: { value: bounded('get') },
    set: { value: bounded('set') },
    destroy: { value: bounded('destroy') }
  })
  wrappers.set(store, { ms, wrapper })
  return wrapper
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
