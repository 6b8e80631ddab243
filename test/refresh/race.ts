import type { Test } from 'tap'
import fc from 'fast-check'
import type { LoginStore } from '../../lib/login-store/contract'
import { TestUsers, hashOf } from '../helper'
import { loginPair, me, refreshApp, refreshWith, REFRESH_PATH, type ReuseEvent } from './kit'

type Instance = 'A' | 'B'

/**
 * Two refreshes with one token, one on each instance, under fast-check's scheduler: each `get` and `swap` either
 * instance makes waits until the scheduler picks it, so every run is one interleaving of the two requests' store
 * calls. The expected outcome, for every ordering: exactly one refresh succeeds; the other is a 401, and since one
 * token was used twice, the whole login ends (the winner's new tokens die too) and onReuse fires once. How the loser
 * finds out depends on the ordering, and the test checks that too:
 * - its read came after the winner's swap: the read shows its hash among the spent ones, and it makes no swap;
 * - its read came before the winner's swap: it swaps too, after, and its swap fails.
 */
export async function raceOneToken (t: Test, stores: [LoginStore, LoginStore], runs = 40): Promise<void> {
  let scheduler: fc.Scheduler | null = null
  const pending = { A: 0, B: 0 }
  const trace: string[] = []
  let wake: () => void = () => {}
  const scheduled = (instance: Instance, store: LoginStore): LoginStore => {
    const wrapped: LoginStore = Object.create(store)
    for (const method of ['get', 'swap'] as const) {
      const original = store[method] as (...args: unknown[]) => unknown
      wrapped[method] = ((...args: unknown[]) => {
        if (scheduler === null) return original.apply(store, args)
        pending[instance]++
        wake()
        return scheduler.schedule(Promise.resolve(), `${instance} ${method}`).then(async () => {
          pending[instance]--
          const answer = await original.apply(store, args)
          trace.push(`${instance} ${method}${method === 'swap' ? ` ${String(answer)}` : ''}`)
          return answer
        })
      }) as never
    }
    return wrapped
  }
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const reuses: ReuseEvent[] = []
  const a = await refreshApp(t, { loginStore: scheduled('A', stores[0]), users, reuses })
  const b = await refreshApp(t, { loginStore: scheduled('B', stores[1]), users, reuses })

  const seen = new Set<string>()
  await fc.assert(fc.asyncProperty(fc.scheduler(), async s => {
    const pair = await loginPair(a)
    reuses.length = 0
    trace.length = 0
    const done = { A: false, B: false }
    scheduler = s
    const send = (instance: Instance) => (instance === 'A' ? a : b)
      .inject({ method: 'POST', url: REFRESH_PATH, payload: { refreshToken: pair.refreshToken } })
      .then(response => { done[instance] = true; wake(); return response })
    const both = Promise.all([send('A'), send('B')])
    const ready = (): boolean => (done.A || pending.A > 0) && (done.B || pending.B > 0)
    while (!(done.A && done.B)) {
      while (!ready()) await new Promise<void>(resolve => { wake = resolve })
      if (!(done.A && done.B)) await s.waitNext(1)
    }
    scheduler = null
    const [onA, onB] = await both
    const statuses = [onA.statusCode, onB.statusCode].sort()
    if (statuses[0] !== 200 || statuses[1] !== 401) return false
    const [winner, loser]: [Instance, Instance] = onA.statusCode === 200 ? ['A', 'B'] : ['B', 'A']
    const lost = (winner === 'A' ? onB : onA).json()
    if (lost.code !== 'FST_AUTH_INVALID_REFRESH_TOKEN') return false
    const won = (winner === 'A' ? onA : onB).json()
    const winnerSwap = trace.indexOf(`${winner} swap true`)
    const loserRead = trace.indexOf(`${loser} get`)
    const loserSwap = trace.findIndex(step => step.startsWith(`${loser} swap`))
    const expected = loserRead > winnerSwap ? 'read-sees-spent' : 'swap-fails'
    seen.add(expected)
    if (expected === 'read-sees-spent' && loserSwap !== -1) return false
    if (expected === 'swap-fails' && trace[loserSwap] !== `${loser} swap false`) return false
    if (reuses.length !== 1) return false
    // The family has ended on both instances: the winner's new pair is dead.
    if (await me(b, won.accessToken) !== 401 || await me(a, pair.accessToken) !== 401) return false
    return (await refreshWith(a, won.refreshToken)).statusCode === 401
  }), { numRuns: runs })
  t.same([...seen].sort(), ['read-sees-spent', 'swap-fails'], 'both kinds of ordering were run, each with its outcome')
}
