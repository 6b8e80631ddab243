import type { Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import type { LoginStore } from '../../lib/login-store/contract'
import { TestUsers, build, hashOf } from '../helper'
import { addLoginRoutes, listWith, loginFrom, statusOf } from '../login/helper'
import { heldStore, type HeldStore, type StallMode } from './held-store'

// The seams between the login store commands of listing and ending logins, attacked by holding answers and stalling
// commands (issue 21, items 5 and 13). Used by test/security/store-seams.test.ts (memory) and
// test/redis/store-seams.test.ts (createRedisLoginStore on a real Redis).

export type FullStore = LoginStore & Required<Pick<LoginStore, 'swap'>>

/** Short, so that a stalled call answers 503 soon; nothing here waits for it but the stalled request. */
const STORE_TIMEOUT = 100

async function appOn (t: Test, held: HeldStore, plugin: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const { app } = await build(t, {
    users,
    plugin: { loginStore: held.store, ...plugin },
    session: { storeTimeout: STORE_TIMEOUT },
    extend: server => {
      addLoginRoutes(server)
      // The documented renewal: the same login under a new session id.
      server.post('/renew', async request => {
        await request.login({ user: request.user as object })
        return { ok: true }
      })
      server.post('/end-all', async () => ({ ended: await server.endLogins(1) }))
    }
  })
  return app
}

/**
 * Item 5: a listing that read B's index entry before B renewed finds no record under the old handle and cleans the
 * entry up; an endOtherLogins landing inside that clean-up must still end B.
 */
export async function listingCleanupRace (t: Test, inner: FullStore): Promise<void> {
  const held = heldStore(inner)
  const app = await appOn(t, held)
  const a = { cookie: await loginFrom(app, { ua: 'laptop' }) }
  const b = { cookie: await loginFrom(app, { ua: 'phone' }) }

  // The listing reads the index (B under its first session id) and waits there.
  const entriesRead = held.holdNext('entries')
  const listing = listWith(app, a)
  await entriesRead.reached
  // B renews: its record moves to a new session id, and its index entry with it.
  const renewal = await app.inject({ method: 'POST', url: '/renew', headers: b })
  t.equal(renewal.statusCode, 200, 'B renews')
  const renewed = { cookie: renewal.cookies.find(c => c.name === 'sessionId' && c.value !== '') }
  t.ok(renewed.cookie, 'under a new cookie')
  const bNow = { cookie: `sessionId=${renewed.cookie?.value}` }
  t.equal(await statusOf(app, bNow), 200, 'which authenticates')

  // The listing goes on with what it read: no record under B's old handle, so it cleans B's entry up. Its
  // removeEntry is answered late, and the victim's "sign out my other devices" lands meanwhile.
  const cleanup = held.holdNext('removeEntry')
  entriesRead.release()
  await cleanup.reached
  const others = await app.inject({ method: 'POST', url: '/logins/end-others', headers: a })
  t.same(others.json(), { ended: 1 }, 'endOtherLogins in the middle of the clean-up ends B')
  cleanup.release()
  t.same((await listing).map(login => login.userAgent), ['laptop'], 'the listing shows the laptop only')

  t.equal(await statusOf(app, bNow), 401, 'the renewed login no longer authenticates')
  t.same((await listWith(app, a)).map(login => login.userAgent), ['laptop'], 'and is listed nowhere')
  t.equal(await statusOf(app, a), 200, 'the laptop stays signed in')
}

type Flow = 'endOtherLogins' | 'app.endLogins' | 'endLogin(id)'
// Not a logout: it removes its entry and deletes its record at once, for its round-trip budget (SECURITY.md row 34).
const FLOWS: readonly Flow[] = ['endOtherLogins', 'app.endLogins', 'endLogin(id)']

/**
 * Item 13: for each "sign out" call, the store stalls at each command of its sequence in turn, in each way; the call
 * answers 503 or succeeds, then is retried once the store is back. After the retry every login it targets must be
 * ended; between the two, each must be ended or still listed.
 */
export async function stallEachCommand (t: Test, inner: () => FullStore): Promise<void> {
  const run = async (flow: Flow, at: number | undefined, mode: StallMode): Promise<number> => {
    const held = heldStore(inner())
    const app = await appOn(t, held)
    const a = { cookie: await loginFrom(app, { ua: 'laptop' }) }
    const b = { cookie: await loginFrom(app, { ua: 'phone' }) }
    const targets = flow === 'app.endLogins' ? [a, b] : [b]
    const bId = (await listWith(app, a)).find(login => !login.current)?.id
    const call = async (): Promise<number> => {
      const response = flow === 'endOtherLogins'
        ? await app.inject({ method: 'POST', url: '/logins/end-others', headers: a })
        : flow === 'app.endLogins'
          ? await app.inject({ method: 'POST', url: '/end-all' })
          : await app.inject({ method: 'POST', url: '/logins/end', headers: a, payload: { id: bId } })
      return response.statusCode
    }
    if (at === undefined) held.record()
    else held.stallAt(at, mode)
    const first = await call()
    const sequence = held.calls.length
    held.record()
    const label = `${flow}, stalled (${mode}) at command ${at ?? '-'}`
    if (at !== undefined) {
      t.equal(first, 503, `${label}: 503`)
      // Between the failed call and its retry, a targeted login is ended or still shows in a listing.
      const listed = flow === 'app.endLogins' ? [] : (await listWith(app, a)).map(login => login.id)
      for (const [i, headers] of targets.entries()) {
        const alive = await statusOf(app, headers) === 200
        const findable = flow === 'app.endLogins' || listed.includes(bId as string)
        if (alive && !findable) t.fail(`${label}: target ${i} authenticates and no listing shows it`)
        if (alive && flow === 'app.endLogins') {
          t.ok((await app.listLogins(1)).length > 0, `${label}: a live target is still listed by app.listLogins`)
        }
      }
      t.equal(await call(), 200, `${label}: the retry succeeds`)
    } else {
      t.equal(first, 200, `${flow}: succeeds with no stall`)
    }
    for (const [i, headers] of targets.entries()) {
      t.equal(await statusOf(app, headers), 401, `${label}: target ${i} is ended`)
    }
    if (flow !== 'app.endLogins') t.equal(await statusOf(app, a), 200, `${label}: the caller's own login stays`)
    return sequence
  }
  for (const flow of FLOWS) {
    const sequence = await run(flow, undefined, 'lost')
    t.ok(sequence >= 2, `${flow}: ${sequence} store commands`)
    for (let at = 0; at < sequence; at++) {
      for (const mode of ['lost', 'dropped', 'reject'] as const) await run(flow, at, mode)
    }
  }
}

/**
 * A renewal holds at each of its store commands in turn (its answer waits for the test): a listing made meanwhile
 * shows the login being renewed, and an endLogin(id) made meanwhile ends it, says so and reports it once, whichever
 * command the renewal is at. Before, a renewal took the old record first, so in its window a listing found no record
 * and dropped the entry (the renewal then failed: that device was signed out by a listing), and an endLogin answered
 * false with no event though the login ended.
 */
export async function renewalWindows (t: Test, inner: () => FullStore): Promise<void> {
  const setUp = async (): Promise<{ held: HeldStore, app: FastifyInstance, a: { cookie: string }, b: { cookie: string }, bId: string, ended: Array<{ loginId: string, reason: string }> }> => {
    const held = heldStore(inner())
    const ended: Array<{ loginId: string, reason: string }> = []
    const app = await appOn(t, held, { onLoginEnded: ({ loginId, reason }: { loginId: string, reason: string }) => { ended.push({ loginId, reason }) } })
    const a = { cookie: await loginFrom(app, { ua: 'laptop' }) }
    const b = { cookie: await loginFrom(app, { ua: 'phone' }) }
    const bId = (await listWith(app, a)).find(login => !login.current)?.id as string
    return { held, app, a, b, bId, ended }
  }
  const cookieOf = (response: { cookies: Array<{ name: string, value: string }> }): { cookie: string } | undefined => {
    const cookie = response.cookies.find(c => c.name === 'sessionId' && c.value !== '')
    return cookie === undefined ? undefined : { cookie: `sessionId=${cookie.value}` }
  }

  // The commands of one renewal, in order, as the store sees them.
  const probe = await setUp()
  probe.held.record()
  t.equal((await probe.app.inject({ method: 'POST', url: '/renew', headers: probe.b })).statusCode, 200, 'a renewal alone succeeds')
  const methods = [...new Set(probe.held.calls)] as Array<keyof LoginStore>
  t.ok(methods.includes('replaceEntry'), `a renewal moves its index entry (${probe.held.calls.join(', ')})`)

  for (const method of methods) {
    await t.test(`a listing while a renewal waits on ${method}`, async t => {
      const { held, app, a, b, bId } = await setUp()
      const hold = held.holdNext(method)
      const renewal = app.inject({ method: 'POST', url: '/renew', headers: b })
      await hold.reached
      t.same((await listWith(app, a)).map(login => login.userAgent).sort(), ['laptop', 'phone'], 'the listing shows the login being renewed')
      hold.release()
      const renewed = await renewal
      t.equal(renewed.statusCode, 200, 'the renewal succeeds')
      const bNow = cookieOf(renewed) ?? b
      t.equal(await statusOf(app, bNow), 200, 'the renewed login authenticates')
      t.ok((await listWith(app, a)).some(login => login.id === bId), 'and is still listed, under the same id')
    })

    await t.test(`an endLogin while a renewal waits on ${method}`, async t => {
      const { held, app, a, b, bId, ended } = await setUp()
      const hold = held.holdNext(method)
      const renewal = app.inject({ method: 'POST', url: '/renew', headers: b })
      await hold.reached
      const end = app.inject({ method: 'POST', url: '/logins/end', headers: a, payload: { id: bId } })
      // The end may itself wait behind the held command (one store, one queue on Redis): let the renewal go on first
      // once the end has sent what it can.
      await new Promise(resolve => setImmediate(resolve))
      hold.release()
      const [ending, renewed] = await Promise.all([end, renewal])
      t.same(ending.json(), { ended: true }, 'endLogin says it ended the login')
      t.same(ended, [{ loginId: bId, reason: 'ended' }], 'onLoginEnded fires once, for that login')
      t.equal(await statusOf(app, b), 401, 'the old cookie is dead')
      const bNow = cookieOf(renewed)
      if (bNow !== undefined) t.equal(await statusOf(app, bNow), 401, 'so is the cookie the renewal set')
      t.notOk((await listWith(app, a)).some(login => login.id === bId), 'and it is listed nowhere')
      t.equal(await statusOf(app, a), 200, 'the caller stays signed in')
    })
  }
}
