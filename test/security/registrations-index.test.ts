// Issue 21, item 2: two registrations (docs/registering.md) on one login store must never see or end each other's
// user 3. Before the fix the index key was the bare user id, shared by every registration on the store.
import t from 'tap'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { attackOtherAreasLogins } from './two-registrations'

t.test('two registrations on one createMemoryLoginStore, JWT: customer 3 never lists or ends staff member 3\'s logins', async t => {
  await attackOtherAreasLogins(t, { backend: 'jwt', store: () => createMemoryLoginStore() })
})

t.test('two registrations on one createMemoryLoginStore, sessions with a cookie each: the same', async t => {
  await attackOtherAreasLogins(t, { backend: 'session', store: () => createMemoryLoginStore() })
})
