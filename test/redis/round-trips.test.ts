import t from 'tap'
import { createClient } from 'redis'
import { TestUsers, hashOf } from '../helper'
import { RedisServer, ownRedisSkipReason, within } from './server'
import { DelayProxy, commandDelta, commandStats } from './proxy'
import { assertGoals, byHandApp, measureKinds, pluginApp, type AnyRedis, type Measured } from './kinds'

// Issue 13: how many Redis round trips each kind of request waits for, through a proxy that delays each direction,
// against @fastify/session used by hand on the same store. Counts, not times: they do not depend on the machine.
// Round trips are the proxy's flights (test/redis/proxy.ts); commands are INFO commandstats deltas, read on a
// connection of the test's own that bypasses the proxy. test/redis/cluster.test.ts does the same on a Cluster.

const skip = ownRedisSkipReason()
// Each way; a command that waits for another's answer arrives at least 2 × DELAY after it.
const DELAY = 25

type Client = ReturnType<typeof createClient>

async function client (port: number): Promise<Client> {
  const redis = createClient({ socket: { host: '127.0.0.1', port } })
  redis.on('error', () => {})
  await within(redis.connect(), 5000, 'connecting to Redis')
  t.teardown(() => redis.destroy())
  return redis
}

t.test('round trips and commands per request kind, the plugin on Redis against @fastify/session by hand', { skip }, async t => {
  const server = await RedisServer.start()
  t.teardown(() => server.stop())
  const proxy = await DelayProxy.start(server.port, DELAY)
  t.teardown(() => proxy.close())
  const inspect = await client(server.port)
  const measure = async (what: () => Promise<unknown>): Promise<Measured> => {
    const before = commandStats(await inspect.info('commandstats'))
    proxy.reset()
    await what()
    const flights = proxy.flights
    return { flights, commands: commandDelta(before, commandStats(await inspect.info('commandstats'))) }
  }
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
  const plugin = await pluginApp(t, await client(proxy.port) as unknown as AnyRedis, users, 'plugin:')
  const byHand = await byHandApp(t, await client(proxy.port) as unknown as AnyRedis, users, 'by-hand:')
  assertGoals(t, await measureKinds(t, 'plugin', plugin, measure), await measureKinds(t, 'by hand', byHand, measure))
})
