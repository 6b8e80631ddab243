import t from 'tap'
import { createMemoryLoginStore } from '../lib/login-store/memory'
import { refreshMatrix } from './refresh-matrix'

// Two app instances in one process over one in-memory login store.
t.test('on the in-memory login store', async t => {
  refreshMatrix(t, {
    stores: async (_t, now) => {
      const store = createMemoryLoginStore({ now })
      return [store, store]
    }
  })
})
