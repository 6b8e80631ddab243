import t, { type Test } from 'tap'
import { MemoryStore } from '@fastify/session'
import { sessionStoreLogins } from '../../lib/login-store/memory'
import type { LoginStore as FullLoginStore, LoginRecord } from '../../lib/login-store/contract'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import type { SessionStore } from '../../lib/store'
import { cleanUp, connectClient, testPrefix } from '../redis/app'
import { redisFor, redisSkipReason } from '../redis/server'

// The contract of each LoginStore operation, on both implementations: what the exactness of lib/login-store/logins.ts rests on.

const NOW = 1_800_000_000_000

function record (id: string, expiresAt = NOW + 60_000): LoginRecord {
  return { id, userId: 1, authHash: 'h', backend: 'session', createdAt: NOW, authenticatedAt: NOW, seenAt: NOW, expiresAt, remember: null, userAgent: null, ip: null }
}

async function contract (t: Test, store: FullLoginStore): Promise<void> {
  await store.create('auth-login:h1', record('l1'), NOW + 60_000)
  t.same(await store.get('auth-login:h1'), record('l1'))
  t.equal(await store.update('auth-login:h1', { seenAt: NOW + 5 }, NOW + 60_000), true, 'update while it exists')
  t.equal((await store.get('auth-login:h1'))?.seenAt, NOW + 5)
  t.equal(await store.update('auth-login:none', { seenAt: NOW }, NOW + 60_000), false, 'no update of what is not there')
  t.equal(await store.get('auth-login:none') ?? null, null, 'and nothing created by it')
  const [first, second] = await Promise.all([store.take('auth-login:h1'), store.take('auth-login:h1')])
  t.same([first?.id ?? null, second?.id ?? null].sort(), ['l1', null].sort(), 'of two takes, one gets the record')

  t.equal(await store.replaceEntry('auth-user:1', 'l1', { handle: 'h2', expiresAt: NOW + 60_000 }), false, 'no replace without an entry')
  t.same(await store.entries('auth-user:1'), [], 'and no entry made by it')
  t.same(await store.removeEntry('auth-user:1', 'l1'), null)
  await store.addEntry('auth-user:1', 'old', { handle: 'h-old', expiresAt: NOW - 1 }, NOW - 10)
  await store.addEntry('auth-user:1', 'l1', { handle: 'h1', expiresAt: NOW + 60_000 }, NOW - 10)
  const pruned = await store.addEntry('auth-user:1', 'l2', { handle: 'h2', expiresAt: NOW + 60_000 }, NOW)
  t.same(pruned, [['old', { handle: 'h-old', expiresAt: NOW - 1 }]], 'the expired entry is pruned and returned')
  t.equal(await store.replaceEntry('auth-user:1', 'l1', { handle: 'h3', expiresAt: NOW + 60_000 }), true)
  t.same((await store.entries('auth-user:1')).sort(), [['l1', { handle: 'h3', expiresAt: NOW + 60_000 }], ['l2', { handle: 'h2', expiresAt: NOW + 60_000 }]])
  t.same(await store.removeEntry('auth-user:1', 'l2'), { handle: 'h2', expiresAt: NOW + 60_000 })
  // Conditional removal (a listing's clean-up, and every end): only while the entry names the handle found.
  t.equal(await store.removeEntry('auth-user:1', 'l1', 'h1'), null, 'no removal of an entry that a renewal moved on')
  t.equal(await store.removeEntry('auth-user:1', 'none', 'h1'), null, 'nor of one that is not there')
  t.same((await store.entries('auth-user:1')).map(([id]) => id), ['l1'], 'the moved entry is untouched')
  await store.addEntry('auth-user:1', 'l4', { handle: 'h4', expiresAt: NOW + 60_000 }, NOW)
  t.same(await store.removeEntry('auth-user:1', 'l4', 'h4'), { handle: 'h4', expiresAt: NOW + 60_000 }, 'removed while it names it')
  // Conditional replace (a renewal): of two renewals from one handle, only the first moves the entry.
  t.equal(await store.replaceEntry('auth-user:1', 'l1', { handle: 'h5', expiresAt: NOW + 60_000 }, 'h1'), false, 'no replace of an entry that names another handle')
  t.equal(await store.replaceEntry('auth-user:1', 'none', { handle: 'h5', expiresAt: NOW + 60_000 }, 'h3'), false, 'nor of one that is not there')
  t.equal(await store.replaceEntry('auth-user:1', 'l1', { handle: 'h6', expiresAt: NOW + 60_000 }, 'h3'), true, 'replaced while it names it')
  t.equal(await store.replaceEntry('auth-user:1', 'l1', { handle: 'h3', expiresAt: NOW + 60_000 }, 'h3'), false, 'once')
  t.same(await store.entries('auth-user:1'), [['l1', { handle: 'h6', expiresAt: NOW + 60_000 }]], 'the entry names the winner')
  t.equal(await store.replaceEntry('auth-user:1', 'l1', { handle: 'h3', expiresAt: NOW + 60_000 }, 'h6'), true)
  t.same(await store.removeAllEntries('auth-user:1'), [['l1', { handle: 'h3', expiresAt: NOW + 60_000 }]])
  t.same(await store.removeAllEntries('auth-user:1'), [])
  t.same(await store.entries('auth-user:1'), [])
  await store.delete('auth-login:none')
}

t.test('the default store over @fastify/session\'s MemoryStore', async t => {
  await contract(t, sessionStoreLogins(new MemoryStore() as SessionStore, true, () => NOW) as FullLoginStore)
})

t.test('createRedisLoginStore on a real Redis', { skip: redisSkipReason() }, async t => {
  const url = await redisFor()
  const { client } = await connectClient(t, url)
  const prefix = testPrefix()
  cleanUp(t, client, prefix)
  const store = createRedisLoginStore(client as never, { prefix })
  await contract(t, store)
  // A hash under a record's key that this store did not write is no login.
  await client.hSet(`${prefix}auth-login:junk`, { id: 'not json' })
  t.equal(await store.get('auth-login:junk'), null)
  await client.hSet(`${prefix}auth-user:9`, { l9: 'no expiry here' })
  t.same(await store.entries('auth-user:9'), [], 'an index entry it cannot read is skipped')
})
