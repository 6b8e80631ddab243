import t from 'tap'
import { MemoryStore } from '@fastify/session'
import type { FastifyRequest } from 'fastify'
import { Logins, recordKey } from '../../lib/login-store/logins'
import { sessionStoreLogins } from '../../lib/login-store/memory'
import type { LoginStore as FullLoginStore, LoginRecord } from '../../lib/login-store/contract'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import { DEFAULT_LIFETIME } from '../../lib/options/logins'

// The Logins class driven directly, for the cases a request rarely produces: a record gone before its index entry,
// an entry that a renewal moved while it was being ended or listed, expired logins met by endLogin(s), device text.

function setup () {
  let time = 1_700_000_000_000
  const clock = { now: () => time, advance: (ms: number) => { time += ms } }
  const map = new Map<string, unknown>()
  const store = sessionStoreLogins(new MemoryStore(map as never) as never, true, clock.now) as FullLoginStore
  const logins = new Logins(store, { ...DEFAULT_LIFETIME, now: clock.now, scope: 'test-scope' })
  return { clock, map, store, logins }
}

function request (headers: Record<string, string>, ip = '203.0.113.9'): FastifyRequest {
  return { headers, ip } as unknown as FastifyRequest
}

function record (logins: Logins, userId = 1): LoginRecord {
  return logins.newRecord(request({ 'user-agent': 'Firefox' }), { userId, authHash: 'h'.repeat(43), backend: 'session', remember: null })
}

t.test('device text: none when absent or empty, cut at 256 characters', async t => {
  const { logins } = setup()
  const none = logins.newRecord(request({}, ''), { userId: 1, authHash: 'x', backend: 'session', remember: null })
  t.equal(none.userAgent, null)
  t.equal(none.ip, null)
  const long = logins.newRecord(request({ 'user-agent': 'A'.repeat(5000) }), { userId: 1, authHash: 'x', backend: 'jwt', remember: false })
  t.equal(long.userAgent?.length, 256)
  t.equal(long.expiresAt - long.createdAt, DEFAULT_LIFETIME.browserSessionMaxAge, 'remember: false has the short lifetime')
})

t.test('ending a login that a renewal moved meanwhile ends it under both handles', async t => {
  const { store, logins } = setup()
  const login = record(logins)
  await logins.open('old-handle', login)
  // What a renewal on another request leaves: the record under a new handle, and the index entry pointing there.
  await store.create(recordKey('new-handle'), login, login.expiresAt)
  t.ok(await store.replaceEntry(logins.indexKey(1), login.id, { handle: 'new-handle', expiresAt: login.expiresAt }))
  await logins.end({ handle: 'old-handle', record: login })
  t.equal(store.get(recordKey('old-handle')), null, 'the record this request knew is gone')
  t.equal(store.get(recordKey('new-handle')), null, 'and so is the one the renewal made')
  t.same(await store.entries(logins.indexKey(1)), [])
})

t.test('endLogin and endLogins on a login whose record has gone or expired end nothing live', async t => {
  const { clock, store, logins } = setup()
  const gone = record(logins)
  await logins.open('gone', gone)
  await store.delete(recordKey('gone'))
  t.equal(await logins.endById(1, gone.id), false, 'an entry without a record is no live login')

  const expired = record(logins)
  await logins.open('expired', expired)
  clock.advance(DEFAULT_LIFETIME.maxAge + 1)
  t.equal(await logins.endById(1, expired.id), false, 'an expired login is not reported as ended')

  const a = record(logins)
  await logins.open('a', a)
  const b = record(logins)
  await logins.open('b', b)
  clock.advance(DEFAULT_LIFETIME.maxAge + 1)
  const c = record(logins)
  await logins.open('c', c)
  t.equal(await logins.endAll(1), 1, 'endLogins counts only the live one')
  t.same(await store.entries(logins.indexKey(1)), [])
})

/**
 * A store whose first entries() answers what it held before a renewal moved the entry to `new-handle` (as a call that
 * read the index just before), optionally written to the older contract: removeEntry ignoring `expectedHandle`.
 */
function staleView (store: FullLoginStore, login: LoginRecord, ignoresExpected: boolean): FullLoginStore {
  let reads = 0
  return Object.create(store, {
    entries: { value: async (key: string) => reads++ === 0 ? [[login.id, { handle: 'old-handle', expiresAt: login.expiresAt }]] : await store.entries(key) },
    ...(ignoresExpected ? { removeEntry: { value: async (key: string, id: string) => await store.removeEntry(key, id) } } : {})
  })
}

for (const ignoresExpected of [false, true]) {
  const which = ignoresExpected ? 'on a store that ignores expectedHandle' : 'on a store that honours expectedHandle'
  t.test(`a listing that finds an entry a renewal moved leaves it in the index, ${which}`, async t => {
    const { store, logins } = setup()
    const login = record(logins)
    await logins.open('new-handle', login)
    const listing = new Logins(staleView(store, login, ignoresExpected), logins.lifetime)
    t.same(await listing.list(1), [], 'the stale entry is not listed')
    t.same(await store.entries(logins.indexKey(1)), [[login.id, { handle: 'new-handle', expiresAt: login.expiresAt }]],
      'and the moved entry is still in the index (put back, where the store removed it)')
    t.equal((await logins.list(1)).length, 1, 'so the login is listed again')
  })

  t.test(`endLogin(id) that read an entry a renewal moved ends the login it moved to, ${which}`, async t => {
    const { store, logins } = setup()
    const login = record(logins)
    await logins.open('new-handle', login)
    const ended: string[] = []
    const ending = new Logins(staleView(store, login, ignoresExpected), { ...logins.lifetime, ended: event => { ended.push(event.reason) } })
    t.equal(await ending.endById(1, login.id), true, 'it says it ended it')
    t.same(ended, ['ended'], 'reported once')
    t.equal(await store.get(recordKey('new-handle')) ?? null, null, 'the record it moved to is gone')
    t.same(await store.entries(logins.indexKey(1)), [], 'and so is the entry')
  })
}

t.test('endLogin(id) on a store that ignores expectedHandle ends a login caught mid-renewal, its new record not yet written', async t => {
  const { store, logins } = setup()
  const login = record(logins)
  // The entry names the renewal's new handle, whose record is not there; the old record still is.
  await logins.open('new-handle', login)
  await store.delete(recordKey('new-handle'))
  await store.create(recordKey('old-handle'), login, login.expiresAt)
  const ended: string[] = []
  const ending = new Logins(staleView(store, login, true), { ...logins.lifetime, ended: event => { ended.push(event.reason) } })
  t.equal(await ending.endById(1, login.id), true, 'it ended the old record, which the renewal then cannot take')
  t.same(ended, ['ended'])
  t.equal(await store.get(recordKey('old-handle')) ?? null, null)
  t.same(await store.entries(logins.indexKey(1)), [])
})

t.test('a store without the capabilities refuses what needs them, by name', async t => {
  const { store } = setup()
  const plain = new Logins({ get: store.get, create: store.create, delete: store.delete }, { ...DEFAULT_LIFETIME, now: Date.now, scope: 'test-scope' })
  await t.rejects(plain.endById(1, 'x'), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED', message: /endLogin\(\)/ })
  await t.rejects(plain.list(1), { code: 'FST_AUTH_LOGIN_STORE_UNSUPPORTED', message: /listLogins\(\)/ })
})

t.test('the Redis store: keys under auth: by default, and a reply that is no list reads as nothing', async t => {
  const calls: string[][] = []
  const client = {
    hGetAll: async (key: string) => { calls.push(['HGETALL', key]); return {} },
    eval: async (_script: string, options: { keys: string[], arguments: string[] }) => { calls.push(['EVAL', ...options.keys]); return null }
  }
  const store = createRedisLoginStore(client)
  t.equal(await store.get('auth-login:x'), null)
  t.equal(await store.take('auth-login:x'), null)
  t.same(await store.removeAllEntries('auth-user:1'), [])
  t.equal(await store.removeEntry('auth-user:1', 'id'), null)
  t.same(calls, [['HGETALL', 'auth:auth-login:x'], ['EVAL', 'auth:auth-login:x'], ['EVAL', 'auth:auth-user:1'], ['EVAL', 'auth:auth-user:1']])
})

t.test('a renewal that changes remember changes the lifetime, counted from the login\'s creation', async t => {
  const { clock, logins } = setup()
  const first = logins.newRecord(request({}), { userId: 1, authHash: 'x', backend: 'session', remember: false })
  clock.advance(60_000)
  const kept = logins.renewedRecord(first, { authHash: 'y', remember: undefined })
  t.equal(kept.expiresAt, first.expiresAt, 'the same remember: the same end')
  const remembered = logins.renewedRecord(first, { authHash: 'y', remember: true })
  t.equal(remembered.expiresAt, first.createdAt + DEFAULT_LIFETIME.maxAge, 'remember: true: the long lifetime from creation')
  t.equal(remembered.createdAt, first.createdAt)
})

t.test('over a store with get, create and delete only, a renewal of a login that has gone fails', async t => {
  const { store, logins } = setup()
  const plain = new Logins({ get: store.get, create: store.create, delete: store.delete }, logins.lifetime)
  const login = record(logins)
  await plain.open('h1', login)
  const other = { ...record(logins), id: 'another-login-id-000000' }
  t.equal(await plain.renew({ backend: 'session', handle: 'h1', record: other }, 'h2', other), false, 'another login under that handle')
  await store.delete(recordKey('h1'))
  t.equal(await plain.renew({ backend: 'session', handle: 'h1', record: login }, 'h2', login), false, 'no login under that handle')
  t.equal(store.get(recordKey('h2')), null, 'and nothing was written for it')
})

t.test('endOtherLogins meets an expired login: ended, not counted; a listing beside a current login drops expired ones', async t => {
  const { clock, logins, store } = setup()
  const old = record(logins)
  await logins.open('old', old)
  clock.advance(DEFAULT_LIFETIME.maxAge - 1000)
  const current = record(logins)
  await logins.open('current', current)
  clock.advance(2000)
  const carried = { backend: 'session' as const, handle: 'current', record: current }
  t.equal((await logins.list(1, carried)).length, 1, 'the expired one is not listed')
  await logins.open('old', old)
  await store.addEntry(logins.indexKey(1), old.id, { handle: 'old', expiresAt: old.expiresAt + 10_000 }, clock.now())
  t.equal(await logins.endAll(1, carried), 0, 'the expired login is ended but not counted')
  t.same((await store.entries(logins.indexKey(1))).map(([id]) => id), [current.id], 'the current login stays')
})

t.test('the MemoryStore login store: a failing get is a rejection, ENOENT an entry that is not there', async t => {
  const answers: Array<{ code?: string }> = [new Error('down'), Object.assign(new Error('none'), { code: 'ENOENT' })]
  const failing = {
    get: (_id: string, callback: (error?: unknown, value?: unknown) => void) => callback(answers.shift()),
    set: (_id: string, _value: unknown, callback: (error?: unknown) => void) => callback(),
    destroy: (_id: string, callback: (error?: unknown) => void) => callback()
  }
  const store = sessionStoreLogins(failing, true, Date.now) as FullLoginStore
  await t.rejects(store.take('k'), /down/)
  t.equal(await store.take('k'), null)
})

t.test('the demo names a login without a user agent or an address plainly', async t => {
  const page = require('../../examples/demo/page.js') as { signedIn: (args: object) => string }
  const html = page.signedIn({
    csrfToken: 't',
    user: { id: 1, username: 'ann', name: 'Ann' },
    logins: [{ id: 'x', backend: 'session', createdAt: new Date(0), lastSeenAt: new Date(0), expiresAt: null, userAgent: null, ip: null, current: false }]
  })
  t.match(html, /Unknown device/)
  t.match(html, /unknown address/)
})
