import t from 'tap'
import { createMemoryLoginStore } from '../lib/login-store/memory'
import { raceOneToken } from './refresh-race'

t.test('two concurrent refreshes with one token, every ordering, on one in-memory store: exactly one wins', async t => {
  const store = createMemoryLoginStore()
  await raceOneToken(t, [store, store])
})
