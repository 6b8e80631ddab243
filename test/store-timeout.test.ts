import t from 'tap'
import { storeCall, timedStore, type SessionStore } from '../lib/store'

function activeTimeouts (): number {
  return process.getActiveResourcesInfo().filter(name => name === 'Timeout').length
}

/** Counts the timers armed while `fn` runs: a timer armed and cleared at once leaves no trace in the active list. */
async function timersArmedBy (fn: () => Promise<void>): Promise<number> {
  const original = globalThis.setTimeout
  let armed = 0
  globalThis.setTimeout = ((...args: Parameters<typeof setTimeout>) => {
    armed++
    return original(...args)
  }) as typeof setTimeout
  try {
    await fn()
  } finally {
    globalThis.setTimeout = original
  }
  return armed
}

/** A store that answers at once from a Map, as MemoryStore does, but that the plugin does not know. */
function syncStore (): SessionStore {
  const entries = new Map<string, unknown>()
  return {
    get: (id, callback) => callback(null, entries.get(id)),
    set: (id, value, callback) => { entries.set(id, value); callback() },
    destroy: (id, callback) => { entries.delete(id); callback() }
  }
}

t.test('a store that answers synchronously costs no timer', async t => {
  const store = timedStore(syncStore(), 60_000)
  const before = activeTimeouts()
  const armed = await timersArmedBy(async () => {
    let answered = false
    store.set('a', { v: 1 }, () => { answered = true })
    t.ok(answered, 'the callback ran before set() returned')
    t.same(await storeCall(store, 'get', 'a'), { v: 1 })
    await storeCall(store, 'destroy', 'a')
    t.equal(await storeCall(store, 'get', 'a'), undefined)
  })
  t.equal(armed, 0, 'no timer was armed for calls that were already answered')
  t.equal(activeTimeouts(), before)
})

t.test('a store that answers later has its deadline armed until it answers', async t => {
  let late: ((error?: unknown, value?: unknown) => void) | undefined
  const hanging: SessionStore = {
    get: (_id, callback) => { late = callback },
    set: (_id, _value, callback) => { setImmediate(callback) },
    destroy: (_id, callback) => { setImmediate(callback) }
  }
  const store = timedStore(hanging, 20)
  const before = activeTimeouts()
  const pending = storeCall(store, 'get', 'a')
  t.equal(activeTimeouts(), before + 1, 'a pending call has its deadline')
  await t.rejects(pending, { code: 'FST_AUTH_STORE_TIMEOUT', statusCode: 503 })
  late?.(null, { v: 'too late' })
  await storeCall(store, 'set', 'a', {})
  t.equal(activeTimeouts(), before, 'an answered call clears its deadline')
})

t.test('wrappers with other timeouts share the store underneath', async t => {
  const other = syncStore()
  const wrapped = timedStore(other, 1000)
  t.not(wrapped, other)
  const otherTimeout = timedStore(other, 50)
  t.not(otherTimeout, wrapped, 'another timeout gets its own wrapper')
  await t.resolves(storeCall(otherTimeout, 'set', 'a', 1))
  t.equal(await storeCall(wrapped, 'get', 'a'), 1, 'wrappers share the store underneath')
})
