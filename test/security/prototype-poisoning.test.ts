// Row 9, prototype poisoning: JSON bodies carrying __proto__ or constructor.prototype are refused with 400 by
// Fastify's parser before any route runs, and usernames that name Object.prototype's own properties (__proto__,
// constructor, toString, ...) give the same plain 401 as any unknown user, even with a user store that looks
// usernames up as keys of a plain object.
import t from 'tap'
import type { LightMyRequestResponse } from 'fastify'
import { TestUsers, hashOf } from '../helper'
import { buildApp, spyOnVerify } from './kit'

const POISONED_BODIES: Record<string, string> = {
  '__proto__ at the top': '{"username":"alice","password":"alice-pw","__proto__":{"isActive":true,"isAdmin":true}}',
  '__proto__ inside the password': '{"username":"alice","password":{"__proto__":{"length":100000000}}}',
  '__proto__ written with unicode escapes': '{"username":"alice","password":"x","\\u005f\\u005fproto\\u005f\\u005f":{"isAdmin":true}}',
  'constructor.prototype': '{"username":"alice","password":"x","constructor":{"prototype":{"isAdmin":true}}}',
  'constructor.prototype nested': '{"username":{"constructor":{"prototype":{"isAdmin":true}}},"password":"x"}'
}

const PROTOTYPE_NAMES = ['__proto__', 'constructor', 'toString', 'valueOf', 'hasOwnProperty', 'prototype', '__defineGetter__']

/** A user store keyed by a plain object, as a quick in-memory adapter might be: `table[username]`. */
class PlainObjectUsers extends TestUsers {
  readonly table: Record<string, unknown> = {}
  override findByUsername = async (username: string) => {
    this.calls.findByUsername++
    return this.table[username] as never
  }
}

function plain401 (response: LightMyRequestResponse) {
  return { status: response.statusCode, body: response.json(), cookie: response.headers['set-cookie'] }
}

async function setup (t: tap.Test, users: TestUsers) {
  const alice = users.add({ id: 1, username: 'alice', password: await hashOf('alice-pw') })
  if (users instanceof PlainObjectUsers) users.table.alice = alice
  const { app } = await buildApp(t, { users })
  return { app, verifies: spyOnVerify(t) }
}

function checkPrototypeIntact (t: tap.Test) {
  const probe = {} as Record<string, unknown>
  t.equal(probe.isAdmin, undefined, 'Object.prototype has no isAdmin')
  t.equal(probe.isActive, undefined, 'Object.prototype has no isActive')
  t.equal(probe.length, undefined, 'Object.prototype has no length')
}

t.test('poisoned JSON bodies are refused with 400 before the route', async t => {
  const users = new TestUsers()
  const { app, verifies } = await setup(t, users)
  for (const [name, body] of Object.entries(POISONED_BODIES)) {
    const response = await app.inject({ method: 'POST', url: '/login', payload: body, headers: { 'content-type': 'application/json' } })
    t.equal(response.statusCode, 400, `${name}: 400`)
    t.equal(response.headers['set-cookie'], undefined)
  }
  t.equal(users.calls.findByUsername, 0, 'no body reached the login route')
  t.equal(verifies.length, 0)
  checkPrototypeIntact(t)
})

for (const Store of [TestUsers, PlainObjectUsers]) {
  t.test(`usernames naming Object.prototype's properties give a plain 401 (${Store.name})`, async t => {
    const users = new Store()
    const { app, verifies } = await setup(t, users)
    const unknown = plain401(await app.inject({ method: 'POST', url: '/login', payload: { username: 'nobody', password: 'alice-pw' } }))
    t.equal(unknown.status, 401)
    for (const username of PROTOTYPE_NAMES) {
      verifies.length = 0
      const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password: 'alice-pw' } })
      t.same(plain401(response), unknown, `${username}: the same 401 as an unknown user`)
      t.equal(verifies.length, 1, `${username}: one verify, like an unknown user`)
    }
    checkPrototypeIntact(t)
  })
}
