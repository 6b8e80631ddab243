import { StoreError, StoreTimeoutError } from './errors'

type Callback = (error?: unknown, value?: unknown) => void

/** The part of an express-session compatible store that the plugin uses. */
export interface SessionStore {
  get (id: string, callback: Callback): void
  set (id: string, value: unknown, callback: Callback): void
  destroy (id: string, callback: Callback): void
}

type StoreMethod = 'get' | 'set' | 'destroy'

export function withTimeout<T> (promise: Promise<T>, ms: number, operation: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new StoreTimeoutError(operation, ms)), ms)
  })
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer))
}

/**
 * The store with every call bounded by `ms` (a hung store answers 503, not never) and every error a 503 that keeps
 * the store's own as its cause. `name` says which store in messages: "Session store", "Login store".
 */
export function timedStore<S extends SessionStore> (store: S, ms: number, name = 'Session store'): S {
  return Object.create(store, {
    get: { value: function get (id: string, callback: Callback) { bounded(store, 'get', id, undefined, callback, ms, name) } },
    set: { value: function set (id: string, value: unknown, callback: Callback) { bounded(store, 'set', id, value, callback, ms, name) } },
    destroy: { value: function destroy (id: string, callback: Callback) { bounded(store, 'destroy', id, undefined, callback, ms, name) } }
  })
}

/** ENOENT is how some stores (session-file-store) say "no such entry": an answer, as @fastify/session reads it. */
function isFailure (error: unknown): boolean {
  return Boolean(error) && (error as { code?: unknown }).code !== 'ENOENT'
}

/**
 * One store call, answered once: with the store's answer, its error, or a timeout. A synchronous answer (MemoryStore)
 * arms no timer and is passed on after the store's call returns, so the caller's next steps run outside this frame.
 */
function bounded (store: SessionStore, method: StoreMethod, id: string, value: unknown, callback: Callback, ms: number, name: string): void {
  let done = false
  let synchronous = true
  let syncError: unknown
  let syncValue: unknown
  let timer: NodeJS.Timeout | undefined
  const answer = (error: unknown, result: unknown): void => {
    if (isFailure(error)) callback(new StoreError(`${name} ${method}`, { cause: error }))
    else callback(error, result)
  }
  const finish: Callback = (error, result) => {
    if (done) return
    done = true
    if (timer !== undefined) clearTimeout(timer)
    if (synchronous) {
      syncError = error
      syncValue = result
    } else {
      answer(error, result)
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
    answer(syncError, syncValue)
  } else {
    timer = setTimeout(() => {
      done = true
      callback(new StoreTimeoutError(`${name} ${method}`, ms))
    }, ms)
  }
}

/** `then` applied to the store's answer: at once when the store answers synchronously, else when it comes. */
export function storeGet<R> (store: SessionStore, id: string, then: (value: unknown) => R): R | Promise<Awaited<R>> {
  let synchronous = true
  let answered = false
  let syncError: unknown
  let syncValue: unknown
  let settle: Callback | undefined
  store.get(id, (error, value) => {
    const failed = isFailure(error) ? error : undefined
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
