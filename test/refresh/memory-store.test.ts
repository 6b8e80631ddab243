import t from 'tap'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { refreshMatrix } from './matrix'
import { raceOneToken } from './race'

// Two app instances in one process over one in-memory login store.
t.test('on the in-memory login store', async t => {
  refreshMatrix(t, {
    stores: async (_t, now) => {
      const store = createMemoryLoginStore({ now })
      return [store, store]
    }
  })
})

t.test('two concurrent refreshes with one token, every ordering, on one in-memory store: exactly one wins', async t => {
  const store = createMemoryLoginStore()
  await raceOneToken(t, [store, store])
})
