import t from 'tap'
import { storeCall, timedStore, withTimeout, type SessionStore } from '../../lib/store'

function stub (behaviour: (callback: (error?: unknown, value?: unknown) => void) => void): SessionStore {
  return {
    get: (_id, callback) => behaviour(callback),
    set: (_id, _value, callback) => behaviour(callback),
    destroy: (_id, callback) => behaviour(callback)
  }
}

t.test('a store call that hangs fails with FST_AUTH_STORE_TIMEOUT (503) after the timeout', async t => {
  const store = timedStore(stub(() => {}), 20)
  for (const method of ['get', 'destroy'] as const) {
    await t.rejects(storeCall(store, method, 'id'), { code: 'FST_AUTH_STORE_TIMEOUT', statusCode: 503, message: new RegExp(method) })
  }
  await t.rejects(storeCall(store, 'set', 'id', {}), { code: 'FST_AUTH_STORE_TIMEOUT' })
})

t.test('an answer after the deadline is ignored; store errors and throws become a 503 that keeps them as cause', async t => {
  let late: ((error?: unknown, value?: unknown) => void) | undefined
  const store = timedStore(stub(callback => { late = callback }), 10)
  await t.rejects(storeCall(store, 'get', 'id'), { code: 'FST_AUTH_STORE_TIMEOUT' })
  late!(null, 'too late')
  t.pass('a late answer does not call back twice')

  const boom = new Error('ECONNREFUSED 10.0.0.7:6379')
  const failed = await storeCall(timedStore(stub(callback => callback(boom)), 50), 'set', 'id', {}).catch(err => err)
  t.match(failed, { code: 'FST_AUTH_STORE_ERROR', statusCode: 503, message: 'Session store set failed' })
  t.equal(failed.cause, boom, 'the store\'s own error is kept as cause, not in the message')
  await t.rejects(storeCall(timedStore(stub(() => { throw new Error('sync boom') }), 50), 'get', 'id'), { code: 'FST_AUTH_STORE_ERROR' })
  const missing = Object.assign(new Error('no such session'), { code: 'ENOENT' })
  await t.rejects(storeCall(timedStore(stub(callback => callback(missing)), 50), 'get', 'id'), missing, 'ENOENT (a missing session) passes as it is')
  t.equal(await storeCall(timedStore(stub(callback => callback(null, 'value')), 50), 'get', 'id'), 'value')
})

t.test('a wrapped store keeps its other methods', async t => {
  const base = Object.assign(stub(callback => callback()), { touch: () => 'touched' })
  t.equal(timedStore(base, 10).touch(), 'touched')
})

t.test('withTimeout rejects a promise that does not settle in time, and passes one that does', async t => {
  await t.rejects(withTimeout(new Promise(() => {}), 10, 'regenerate'), { code: 'FST_AUTH_STORE_TIMEOUT', message: /regenerate/ })
  t.equal(await withTimeout(Promise.resolve(1), 10, 'x'), 1)
})

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
