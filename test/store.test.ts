import t from 'tap'
import { storeCall, timedStore, withTimeout, type SessionStore } from '../lib/store'

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
