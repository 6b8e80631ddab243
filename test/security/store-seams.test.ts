// Issue 21, items 5 and 13, on createMemoryLoginStore: a listing's clean-up racing endOtherLogins, and a store that
// stalls at each command of "sign out" (endOtherLogins, app.endLogins, endLogin(id)) in each way.
import t from 'tap'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { listingCleanupRace, renewalWindows, stallEachCommand } from './store-seams'

t.test('a listing\'s clean-up of a renewed login\'s old entry never hides it from endOtherLogins', async t => {
  await listingCleanupRace(t, createMemoryLoginStore())
})

t.test('a store stalling at any command of a sign-out leaves each login ended or still listed, and the retry ends it', async t => {
  await stallEachCommand(t, () => createMemoryLoginStore())
})

t.test('a listing or an endLogin inside any step of a renewal sees the login, and the end is exact', async t => {
  await renewalWindows(t, () => createMemoryLoginStore())
})
