import type { LoginStore } from '../../lib/login-store/contract'
import { LOGIN_STORE_METHODS } from '../../lib/options/logins'
import { deferred, type Deferred } from './kit'

// A login store wrapper for forcing interleavings and stalls by hand, with no timers: a call can be held (it runs at
// once, its answer waits for the test), or the Nth call from now can break as a stalled network store's would.

/** 'lost': runs, never answers (the command reached the store, the reply did not come back). 'dropped': never runs,
 * never answers. 'reject': never runs, answers an error. */
export type StallMode = 'lost' | 'dropped' | 'reject'

export interface Hold {
  /** Resolves when the held call has run and its answer waits. */
  reached: Promise<void>
  /** Lets the held answer through. */
  release (): void
}

export interface HeldStore {
  store: LoginStore & Required<Pick<LoginStore, 'swap'>>
  /** The calls since `record()` or `stallAt()`, as method names. */
  calls: string[]
  /** Holds the answer of the next call of `method`. */
  holdNext (method: keyof LoginStore): Hold
  /** From now on, calls are logged and none breaks. */
  record (): void
  /** The `at`-th call from now (0-based) breaks in the given way; the calls after it run. */
  stallAt (at: number, mode: StallMode): void
}

export function heldStore (inner: LoginStore & Required<Pick<LoginStore, 'swap'>>): HeldStore {
  const holds = new Map<string, Array<{ arrived: Deferred, gate: Deferred }>>()
  let stall: { at: number, mode: StallMode } | undefined
  const held: HeldStore = {
    store: {} as HeldStore['store'],
    calls: [],
    holdNext (method) {
      const hold = { arrived: deferred(), gate: deferred() }
      holds.set(method, [...(holds.get(method) ?? []), hold])
      return { reached: hold.arrived.promise, release: () => hold.gate.resolve() }
    },
    record () {
      held.calls = []
      stall = undefined
    },
    stallAt (at, mode) {
      held.calls = []
      stall = { at, mode }
    }
  }
  const wrapped = held.store as unknown as Record<string, unknown>
  for (const name of [...LOGIN_STORE_METHODS, 'swap'] as const) {
    const method = inner[name] as (...args: unknown[]) => unknown
    wrapped[name] = (...args: unknown[]) => {
      held.calls.push(name)
      if (stall !== undefined && held.calls.length - 1 === stall.at) {
        const { mode } = stall
        stall = undefined
        if (mode === 'reject') return Promise.reject(new Error(`${name}: the store is down`))
        if (mode === 'lost') Promise.resolve(method.apply(inner, args)).catch(() => {})
        return new Promise(() => {})
      }
      const hold = holds.get(name)?.shift()
      const answer = method.apply(inner, args)
      if (hold === undefined) return answer
      return Promise.resolve(answer).then(async value => {
        hold.arrived.resolve()
        await hold.gate.promise
        return value
      })
    }
  }
  return held
}
