import t from 'tap'
import Fastify from 'fastify'
import fastifyCookie from '@fastify/cookie'
import fastifySession from '@fastify/session'
import auth from '../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes, hashOf, loginAs } from './helper'

// Review: app hooks around the plugin's own onRequest hook, in an app that registered @fastify/session itself.

t.test('an app hook that runs before the plugin\'s sees no user and no user id, even for a login that has ended', async t => {
  const users = new TestUsers()
  const ann = users.add({ id: 1, username: 'ann', password: await hashOf('pw') })
  const seen: Record<string, unknown[]> = { before: [], after: [] }
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(fastifyCookie)
  await app.register(fastifySession, { secret: SECRET, cookie: { secure: false } })
  app.addHook('onRequest', async request => { seen.before!.push([request.user, request.getUserId()]) })
  await app.register(auth, { users, hashOptions: TEST_HASH_OPTIONS, authHashSecret: `${SECRET}-auth-hash` })
  app.addHook('onRequest', async request => { seen.after!.push([(request.user as { id?: number } | null)?.id ?? null, request.getUserId()]) })
  addRoutes(app)
  await app.ready()

  const cookie = await loginAs(app, 'ann', 'pw')
  seen.before!.length = seen.after!.length = 0
  await app.inject({ url: '/whoami', headers: { cookie } })
  t.same(seen, { before: [[null, null]], after: [[1, 1]] }, 'a live login: resolved for the hooks after the plugin only')

  ann.password = await hashOf('changed')
  seen.before!.length = seen.after!.length = 0
  await app.inject({ url: '/whoami', headers: { cookie } })
  t.same(seen, { before: [[null, null]], after: [[null, null]] }, 'an ended login: the hook before the plugin is not told its id')
})
