// Issue 21, items 5 and 13, on createRedisLoginStore and a real Redis: a listing's clean-up racing endOtherLogins,
// and the store stalling at each command of "sign out" (held by a wrapper around the store, no timers).
import t, { type Test } from 'tap'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import { listingCleanupRace, renewalWindows, stallEachCommand, type FullStore } from '../security/store-seams'
import { cleanUp, connectClient, testPrefix } from './app'
import { redisFor, redisSkipReason } from './server'

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

/** Fresh login stores on the test Redis, each under a prefix of its own, all removed when the test ends. */
async function redisStores (t: Test): Promise<() => FullStore> {
  const prefix = testPrefix()
  const { client } = await connectClient(t, url)
  cleanUp(t, client, prefix)
  let runs = 0
  return () => createRedisLoginStore(client as never, { prefix: `${prefix}${runs++}:` })
}

t.test('on Redis, a listing\'s clean-up of a renewed login\'s old entry never hides it from endOtherLogins', { skip }, async t => {
  await listingCleanupRace(t, (await redisStores(t))())
})

t.test('on Redis, a stall at any command of a sign-out leaves each login ended or still listed, and the retry ends it', { skip }, async t => {
  await stallEachCommand(t, await redisStores(t))
})

t.test('on Redis, a listing or an endLogin inside any step of a renewal sees the login, and the end is exact', { skip }, async t => {
  await renewalWindows(t, await redisStores(t))
})
