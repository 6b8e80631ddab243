import t, { type Test } from 'tap'
import { spawnSync } from 'node:child_process'
import { createClient, createCluster } from 'redis'
import { TestUsers, hashOf, loginAs, userIndexKey } from '../helper'
import { RedisServer, ownRedisSkipReason, within } from './server'
import { DelayProxy, commandDelta, commandStats } from './proxy'
import { assertGoals, byHandApp, measureKinds, pluginApp, type AnyRedis, type Measured } from './kinds'
import { gate } from './app'

// Issue 13 on a Redis Cluster of three masters: connect-redis on node-redis's createCluster for the sessions and
// createRedisLoginStore(cluster) for the logins. A session (`sess:<id>`), its login record (`auth:auth-login:<id>`)
// and the user's index (`auth:auth-user:<registration's tag>:<id>`) hash to slots of their own, so they usually sit
// on different nodes: the plugin reads the session and the record at the same time and every write touches one key,
// so it needs no hash tags. What the single-Redis tests prove is proved here: shared logins, logout with a request in
// flight, and the round trips (three delaying proxies, one per node, counting together).

const WAIT = 10000
const DELAY = 25

function clusterSkipReason (): string | false {
  const own = ownRedisSkipReason()
  if (own !== false) return own
  const probe = spawnSync('redis-cli', ['--version'], { timeout: 5000, stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
    ? false
    : 'redis-cli is not installed (Debian: apt-get install redis-tools): skipping the Redis Cluster tests, which form a cluster with it'
}
const skip = clusterSkipReason()

type Cluster = ReturnType<typeof createCluster>
type Client = ReturnType<typeof createClient>

interface Local {
  nodes: RedisServer[]
  proxies: DelayProxy[]
  inspect: Client[]
  /** A new cluster connection, straight to the nodes or through the proxies. */
  connect: (proxied: boolean) => Promise<Cluster>
}

/** Three masters on free ports, formed into a cluster with redis-cli, all 16384 slots served before it resolves. */
async function localCluster (t: Test): Promise<Local> {
  const nodes = await Promise.all([0, 1, 2].map(() => RedisServer.start({ cluster: true })))
  t.teardown(() => Promise.all(nodes.map(node => node.stop())))
  const created = spawnSync('redis-cli', ['--cluster', 'create', ...nodes.map(node => `127.0.0.1:${node.port}`),
    '--cluster-replicas', '0', '--cluster-yes'], { timeout: WAIT, encoding: 'utf8' })
  if (created.status !== 0) throw new Error(`redis-cli --cluster create failed:\n${created.stdout}${created.stderr}`)
  const inspect = await Promise.all(nodes.map(async node => {
    const client = createClient({ url: node.url })
    client.on('error', () => {})
    await within(client.connect(), 5000, `connecting to node ${node.port}`)
    t.teardown(() => client.destroy())
    return client
  }))
  const deadline = Date.now() + WAIT
  while (!(await Promise.all(inspect.map(client => client.sendCommand(['CLUSTER', 'INFO']))))
    .every(reply => String(reply).includes('cluster_state:ok'))) {
    if (Date.now() > deadline) throw new Error('the cluster did not reach cluster_state:ok')
    await new Promise(resolve => setTimeout(resolve, 50))
  }
  const arrivals: number[] = []
  const proxies = await Promise.all(nodes.map(node => DelayProxy.start(node.port, DELAY, arrivals)))
  t.teardown(() => Promise.all(proxies.map(proxy => proxy.close())))
  const connect = async (proxied: boolean): Promise<Cluster> => {
    const cluster = createCluster({
      rootNodes: nodes.map((node, i) => ({ url: proxied ? `redis://127.0.0.1:${(proxies[i] as DelayProxy).port}` : node.url })),
      // The nodes announce their own addresses; through the proxies, each is reached at its proxy's.
      ...(proxied
        ? { nodeAddressMap: Object.fromEntries(nodes.map((node, i) => [`127.0.0.1:${node.port}`, { host: '127.0.0.1', port: (proxies[i] as DelayProxy).port }])) }
        : {})
    })
    cluster.on('error', () => {})
    await within(cluster.connect(), WAIT, 'connecting to the cluster')
    t.teardown(() => cluster.destroy())
    return cluster
  }
  return { nodes, proxies, inspect, connect }
}

function sidOf (cookie: string): string {
  return decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1)).split('.')[0] as string
}

async function keysOn (local: Local, pattern: string): Promise<string[]> {
  return (await Promise.all(local.inspect.map(client => client.keys(pattern)))).flat().sort()
}

t.test('Redis Cluster: connect-redis on createCluster and createRedisLoginStore(cluster)', { skip }, async t => {
  const local = await localCluster(t)
  const users = new TestUsers()
  users.add({ id: 1, username: 'bob', password: await hashOf('pw') })

  t.test('a login on A is seen on B, and a logout on B ends it on both', async t => {
    const prefix = 'shared:'
    const [a, b] = await Promise.all([pluginApp(t, await local.connect(false) as unknown as AnyRedis, users, prefix),
      pluginApp(t, await local.connect(false) as unknown as AnyRedis, users, prefix)])
    const cookie = await loginAs(a as never, 'bob', 'pw')
    t.equal((await b.inject({ url: '/me', headers: { cookie } })).json().user.username, 'bob', 'B sees the login made on A')
    const sid = sidOf(cookie)
    const keys = await keysOn(local, `${prefix}*`)
    t.same(keys, [`${prefix}${sid}`, `${prefix}auth-login:${sid}`, `${prefix}${userIndexKey(1)}`].sort(), 'the session, its record and the user\'s index')
    t.ok(new Set(await Promise.all(local.inspect.map(async (client, i) => (await client.keys(`${prefix}*`)).length > 0 ? i : -1))).size >= 2,
      'spread over more than one node')
    t.equal((await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200)
    t.same(await keysOn(local, `${prefix}*`), [], 'nothing left on any node')
    for (const [name, app] of [['A', a], ['B', b]] as const) {
      t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, `the old cookie is refused on ${name}`)
    }
  })

  t.test('a request in flight on A that writes to its session while B logs out does not revive the login', async t => {
    const prefix = 'race:'
    const held = gate()
    let hold = (): Promise<void> => Promise.resolve()
    const a = await pluginApp(t, await local.connect(false) as unknown as AnyRedis, users, prefix, () => hold())
    const b = await pluginApp(t, await local.connect(false) as unknown as AnyRedis, users, prefix)
    const cookie = await loginAs(a as never, 'bob', 'pw')
    hold = held.hold
    const inFlight = a.inject({ method: 'POST', url: '/slow-write', headers: { cookie } })
    await within(held.arrived, WAIT, 'the slow request reaching its handler')
    t.equal((await b.inject({ method: 'POST', url: '/logout', headers: { cookie } })).statusCode, 200, 'B logged out')
    held.release()
    const slow = await within(inFlight, WAIT, 'the slow request')
    t.equal(slow.json().user.username, 'bob', 'authenticated when it started, and finished as such')
    t.same(await keysOn(local, `${prefix}${sidOf(cookie)}`), [`${prefix}${sidOf(cookie)}`], 'its save wrote the session back')
    t.same(await keysOn(local, `${prefix}auth-*`), [], 'but no login record or index came back')
    for (const [name, app] of [['A', a], ['B', b]] as const) {
      t.equal((await app.inject({ url: '/me', headers: { cookie } })).statusCode, 401, `the old cookie is refused on ${name}`)
    }
  })

  t.test('round trips and commands per request kind, through a delaying proxy per node', async t => {
    const measure = async (what: () => Promise<unknown>): Promise<Measured> => {
      const stats = async (): Promise<Array<Map<string, number>>> => Promise.all(local.inspect.map(async client => commandStats(await client.info('commandstats'))))
      const before = await stats()
      const proxy = local.proxies[0] as DelayProxy
      proxy.reset()
      await what()
      const flights = proxy.flights
      const after = await stats()
      const commands: Record<string, number> = {}
      after.forEach((node, i) => {
        for (const [name, calls] of Object.entries(commandDelta(before[i] as Map<string, number>, node))) commands[name] = (commands[name] ?? 0) + calls
      })
      delete commands.cluster
      return { flights, commands }
    }
    const plugin = await pluginApp(t, await local.connect(true) as unknown as AnyRedis, users, 'plugin:')
    const byHand = await byHandApp(t, await local.connect(true) as unknown as AnyRedis, users, 'by-hand:')
    assertGoals(t, await measureKinds(t, 'plugin', plugin, measure), await measureKinds(t, 'by hand', byHand, measure))
  })
})
