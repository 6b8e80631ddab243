// Issue 11, item 4: the default `isActive` was `user.isActive !== false`, so a deactivated user whose database driver
// returns the column as 0 (mysql2, SQLite), '0', 'f' or null kept their session and could log in. The rule now: a user
// without the field is active; with it, only a value that reads as true is; every other value, and any value the rule
// does not know, is inactive (fail closed). An app with another encoding passes its own `isActive`.
import t from 'tap'
import { buildApp } from './kit'
import { hashOf, loginAs } from '../helper'

/** What drivers return for a boolean column, false then true (README, "Options", isActive). */
const DRIVERS: Record<string, [inactive: unknown, active: unknown]> = {
  'JavaScript / pg (boolean)': [false, true],
  'mysql2 TINYINT(1), node:sqlite, better-sqlite3': [0, 1],
  'better-sqlite3 with safeIntegers': [0n, 1n],
  'MySQL BIT(1)': [Buffer.from([0]), Buffer.from([1])],
  'a text protocol (pg without type parsing)': ['f', 't'],
  'a text column of digits': ['0', '1'],
  'a text column of words': ['false', 'true'],
  'Oracle-style CHAR(1)': ['N', 'Y']
}

const ALSO_INACTIVE: unknown[] = [
  null, '', -0, NaN, 'FALSE', 'no', ' 0 ', 'inactive', 'disabled', Buffer.alloc(0), Buffer.from([0, 1]),
  new Uint8Array([0]), {}, [], [1], new Date(), () => true
]
const ALSO_ACTIVE: unknown[] = ['TRUE', 'Yes', ' t ', -1, 2, 2n, new Uint8Array([1])]

async function check (t: tap.Test, value: unknown, active: boolean, name: string): Promise<void> {
  const reasons: unknown[] = []
  const { app, users } = await buildApp(t, {
    plugin: { onLoginFailed: (event: { reason: unknown }) => { reasons.push(event.reason) } },
    // The username alone: a user holding a bigint cannot be sent as JSON.
    routes: app => app.get('/name', async (request) => ({ username: (request.user as { username?: string } | null)?.username ?? null }))
  })
  const user = users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const cookie = await loginAs(app, 'ann', 'pw')
  ;(user as unknown as Record<string, unknown>).isActive = value
  t.equal((await app.inject({ url: '/name', headers: { cookie } })).json().username, active ? 'ann' : null, `${name}: the open session ${active ? 'stays' : 'ends'}`)
  const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann', password: 'pw' } })
  t.equal(login.statusCode, active ? 200 : 401, `${name}: login ${active ? 'works' : 'is refused'}`)
  if (!active) t.same(reasons, ['inactive'], `${name}: as an inactive user`)
  const byId = await app.inject({ method: 'POST', url: '/login-id', payload: { userId: 1 } })
  t.equal(byId.statusCode, active ? 200 : 401, `${name}: login({ userId }) ${active ? 'works' : 'is refused'}`)
}

t.test('what each driver returns for false is inactive, for true active', async t => {
  for (const [driver, [inactive, active]] of Object.entries(DRIVERS)) {
    await check(t, inactive, false, `${driver}, false (${String(inactive)})`)
    await check(t, active, true, `${driver}, true (${String(active)})`)
  }
})

t.test('every other value that does not read as true is inactive', async t => {
  for (const value of ALSO_INACTIVE) await check(t, value, false, `isActive ${typeof value} ${JSON.stringify(value) ?? String(value)}`)
})

t.test('other spellings of true are active, and so is a user without the field', async t => {
  for (const value of ALSO_ACTIVE) await check(t, value, true, `isActive ${typeof value} ${String(value)}`)
  await check(t, undefined, true, 'no isActive field')
})
