import { StoreError, StoreTimeoutError } from './errors'

type Callback = (error?: unknown, value?: unknown) => void

/** The part of an express-session compatible store that the plugin uses. */
export interface SessionStore {
  get (id: string, callback: Callback): void
  set (id: string, value: unknown, callback: Callback): void
  destroy (id: string, callback: Callback): void
}

const kTimed = Symbol('fastify-auth-helpers.timedStore')

type StoreMethod = 'get' | 'set' | 'destroy'

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
  const wrapper: S = Object.create(store, {
    [kTimed]: { value: true },
    get: { value: function get (id: string, callback: Callback) { bounded(store, 'get', id, undefined, callback, ms) } },
    set: { value: function set (id: string, value: unknown, callback: Callback) { bounded(store, 'set', id, value, callback, ms) } },
    destroy: { value: function destroy (id: string, callback: Callback) { bounded(store, 'destroy', id, undefined, callback, ms) } }
  })
  wrappers.set(store, { ms, wrapper })
  return wrapper
}

function answer (method: StoreMethod, callback: Callback, error: unknown, value: unknown): void {
  // @fastify/session reads a missing session as ENOENT; that one is an answer, not a failure.
  if (error && (error as { code?: unknown }).code !== 'ENOENT') callback(new StoreError(method, { cause: error }))
  else callback(error, value)
}

/**
 * One store call, answered once: with the store's answer, its error, or a timeout. An answer given synchronously
 * (MemoryStore) is passed on after the store's call has returned, so that what the caller does next (for
 * @fastify/session, the rest of the request) runs neither inside this frame's try nor with its errors swallowed by
 * it, and such a call arms no timer: Node would create and schedule a timer list for each, since the previous ones
 * were all cleared. In context both cost an authenticated request several per cent (bench/README.md).
 */
function bounded (store: SessionStore, method: StoreMethod, id: string, value: unknown, callback: Callback, ms: number): void {
  let done = false
  let synchronous = true
  let syncError: unknown
  let syncValue: unknown
  let timer: NodeJS.Timeout | undefined
  const finish: Callback = (error, result) => {
    if (done) return
    done = true
    if (timer !== undefined) clearTimeout(timer)
    if (synchronous) {
      syncError = error
      syncValue = result
    } else {
      answer(method, callback, error, result)
    }
  }
  try {
    if (method === 'set') store.set(id, value, finish)
    else store[method](id, finish)
  } catch (error) {
    finish(error)
  }
  synchronous = false
  if (done) {
    answer(method, callback, syncError, syncValue)
  } else {
    timer = setTimeout(() => {
      done = true
      callback(new StoreTimeoutError(method, ms))
    }, ms)
  }
}

/**
 * `then` applied to the store's answer for `id`: at once when the store answers synchronously (MemoryStore), so that
 * the caller's work goes on without a promise, else once the answer comes. A store error is always a rejection;
 * ENOENT is no error but an entry that is not there.
 */
export function storeGet<R> (store: SessionStore, id: string, then: (value: unknown) => R): R | Promise<Awaited<R>> {
  let synchronous = true
  let answered = false
  let syncError: unknown
  let syncValue: unknown
  let settle: Callback | undefined
  store.get(id, (error, value) => {
    // ENOENT is how some stores (session-file-store) say "no such entry": an answer, as @fastify/session reads it.
    const failed = error && (error as { code?: unknown }).code !== 'ENOENT' ? error : undefined
    const found = error ? undefined : value
    if (synchronous) {
      answered = true
      syncError = failed
      syncValue = found
    } else {
      (settle as Callback)(failed, found)
    }
  })
  synchronous = false
  if (answered) return syncError ? Promise.reject(syncError) : then(syncValue)
  return new Promise<unknown>((resolve, reject) => {
    settle = (error, value) => { if (error) reject(error); else resolve(value) }
  }).then(then) as Promise<Awaited<R>>
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
