import { randomBytes } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import { RedisStore } from 'connect-redis'
import { createClient, type RedisClientType } from 'redis'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers, addRoutes } from '../helper'
import { within } from './server'

export type RedisClient = RedisClientType

interface Teardown { teardown: (fn: () => unknown) => void }

/**
 * The client settings the README recommends for a session store, scaled down for tests: a command queued while the
 * client reconnects and a connection attempt each have a deadline, and a lost server is retried for ever with a short
 * backoff, so the app recovers without a restart.
 */
export const CLIENT_TIMEOUTS = { commandTimeout: 300, connectTimeout: 300, maxBackoff: 200 }

export async function connectClient (t: Teardown, url: string, options: { commandTimeout?: number } = {}): Promise<{ client: RedisClient, errors: Error[] }> {
  const errors: Error[] = []
  const client = createClient({
    url,
    socket: {
      connectTimeout: CLIENT_TIMEOUTS.connectTimeout,
      reconnectStrategy: (retries: number) => Math.min(20 * 2 ** retries, CLIENT_TIMEOUTS.maxBackoff)
    },
    commandOptions: { timeout: 'commandTimeout' in options ? options.commandTimeout : CLIENT_TIMEOUTS.commandTimeout }
  })
  // node-redis emits 'error' on every lost connection; without a listener that is an uncaught exception.
  client.on('error', (error: Error) => { errors.push(error) })
  await within(client.connect(), 5000, `connecting to ${url}`)
  t.teardown(() => client.destroy())
  return { client, errors }
}

/** A key prefix of its own per test, so tests sharing a REDIS_URL server never see each other's sessions. */
export function testPrefix (): string {
  return `fah-test:${randomBytes(6).toString('hex')}:`
}

export interface Hold {
  /** Called by the slow routes after the user is resolved; the route waits for the promise. */
  (): Promise<void>
}

export interface InstanceOptions {
  client: RedisClient
  prefix: string
  users: TestUsers
  storeTimeout?: number
  hold?: Hold
  /** Lets a test put a wrapper (a scheduler, a spy) between the plugin and the Redis store. */
  wrapStore?: (store: RedisStore) => object
}

/**
 * One app instance: the plugin with a connect-redis store. Two of these on the same client options and prefix are
 * two instances behind a load balancer. Routes: test/helper.ts's, plus
 * GET /slow-read and POST /slow-write (wait on `hold`; the second writes to its session), and PUT/GET /note.
 */
export async function buildInstance (t: Teardown, options: InstanceOptions): Promise<FastifyInstance> {
  const store = new RedisStore({ client: options.client, prefix: options.prefix })
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users: options.users,
    hashOptions: TEST_HASH_OPTIONS,
    session: {
      secret: SECRET,
      cookie: { secure: false },
      store: options.wrapStore === undefined ? store : options.wrapStore(store),
      ...(options.storeTimeout === undefined ? {} : { storeTimeout: options.storeTimeout })
    }
  } as never)
  addRoutes(app)
  const hold = options.hold ?? (() => Promise.resolve())
  app.get('/slow-read', async (request) => {
    await hold()
    return { user: request.user }
  })
  app.post('/slow-write', async (request) => {
    await hold()
    request.session.set('visits', Number(request.session.get('visits') ?? 0) + 1)
    return { user: request.user }
  })
  app.put('/note', async (request) => {
    request.session.set('note', (request.body as { note: string }).note)
    return { ok: true }
  })
  app.get('/note', async (request) => ({ note: request.session.get('note') ?? null, user: request.user }))
  await app.ready()
  return app
}

/** A hold that parks requests until the test releases them, and tells the test when one has arrived. */
export function gate (): { hold: Hold, arrived: Promise<void>, release: () => void } {
  let arrive!: () => void
  let release!: () => void
  const arrived = new Promise<void>(resolve => { arrive = resolve })
  const released = new Promise<void>(resolve => { release = resolve })
  return {
    hold: () => {
      arrive()
      return released
    },
    arrived,
    release
  }
}

/** Every key under `prefix`, for tests that check what the store holds. */
export async function keysUnder (client: RedisClient, prefix: string): Promise<string[]> {
  const keys: string[] = []
  for await (const batch of client.scanIterator({ MATCH: `${prefix}*`, COUNT: 100 })) keys.push(...batch)
  return keys.sort()
}

/** Removes what a test left under its prefix on a shared REDIS_URL server. */
export function cleanUp (t: Teardown, client: RedisClient, prefix: string): void {
  t.teardown(async () => {
    const keys = await keysUnder(client, prefix)
    if (keys.length > 0) await client.del(keys)
  })
}

declare module 'fastify' {
  interface Session {
    visits?: number
    note?: string
  }
}

export interface TwoInstances {
  a: FastifyInstance
  b: FastifyInstance
  users: TestUsers
  prefix: string
  /** A connection of the test's own, for looking at what the store holds. */
  inspect: RedisClient
}

/** Instances A and B, each with its own connection to the same Redis and the same key prefix. */
export async function twoInstances (t: Teardown, url: string, options: Partial<Pick<InstanceOptions, 'hold' | 'wrapStore'>> = {}): Promise<TwoInstances> {
  const prefix = testPrefix()
  const users = new TestUsers()
  const { client: inspect } = await connectClient(t, url)
  cleanUp(t, inspect, prefix)
  const [{ client: clientA }, { client: clientB }] = await Promise.all([connectClient(t, url), connectClient(t, url)])
  const [a, b] = await Promise.all([
    buildInstance(t, { client: clientA, prefix, users, ...options }),
    buildInstance(t, { client: clientB, prefix, users, ...options })
  ])
  return { a, b, users, prefix, inspect }
}
