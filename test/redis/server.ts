import tap from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A redis-server of the tests' own: 127.0.0.1 only, a free port, nothing written to disk, and a process the outage
 * tests can kill, pause and restart on the same port. Every wait here has a deadline, so a broken Redis fails the
 * test instead of hanging it.
 */

const START_TIMEOUT = 5000
const STOP_TIMEOUT = 3000

const NO_REDIS = 'redis-server is not installed (Debian: apt-get install redis-server), and REDIS_URL is not set'

let binaryChecked: boolean | undefined
let pdeathsig: boolean | undefined

function hasRedisServer (): boolean {
  if (binaryChecked === undefined) {
    const probe = spawnSync('redis-server', ['--version'], { timeout: 5000, stdio: 'ignore' })
    binaryChecked = probe.error === undefined && probe.status === 0
  }
  return binaryChecked
}

/**
 * util-linux's setpriv makes the kernel kill redis-server when the test process dies, however it dies (tap ends a
 * test that times out without running its exit handlers). Where setpriv is missing, the exit handlers below remain.
 */
function command (args: string[]): [string, string[]] {
  if (pdeathsig === undefined) {
    const probe = spawnSync('setpriv', ['--pdeathsig', 'SIGKILL', '--', 'true'], { timeout: 5000, stdio: 'ignore' })
    pdeathsig = probe.error === undefined && probe.status === 0
  }
  return pdeathsig ? ['setpriv', ['--pdeathsig', 'SIGKILL', '--', 'redis-server', ...args]] : ['redis-server', args]
}

/** Why tests that only need some Redis cannot run here (a reason for tap's `skip`), or false when they can. */
export function redisSkipReason (): string | false {
  if (process.env.REDIS_URL) return false
  return hasRedisServer() ? false : `${NO_REDIS}: skipping the Redis tests`
}

/** Why tests that must kill and pause a Redis of their own cannot run here, or false when they can. */
export function ownRedisSkipReason (): string | false {
  return hasRedisServer()
    ? false
    : 'redis-server is not installed (Debian: apt-get install redis-server): skipping the Redis outage tests, ' +
      'which kill and pause a server of their own (REDIS_URL is never used for them)'
}

/** Rejects with a message naming `what` when `promise` has not settled within `ms`. */
export function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

const running = new Set<ChildProcess>()
function killAll (): void {
  for (const child of running) child.kill('SIGKILL')
}
// A test that dies before its teardown (a crash, or tap's SIGTERM on a timeout) must not leave a redis-server behind.
process.once('exit', killAll)
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.once(signal, () => {
    killAll()
    // Listener gone, the signal again: the process ends as it would have without us.
    process.kill(process.pid, signal)
  })
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => child.once('exit', () => resolve()))
}

export class RedisServer {
  readonly port: number
  readonly url: string
  readonly #dir: string
  readonly #extra: string[]
  #child: ChildProcess | undefined

  private constructor (port: number, dir: string, extra: string[]) {
    this.port = port
    this.url = `redis://127.0.0.1:${port}`
    this.#dir = dir
    this.#extra = extra
  }

  /**
   * Starts a server on a free port; a port taken between the probe and the start is retried on another. With
   * `cluster`, a node of a Redis Cluster yet to be formed, its bus on a free port of its own (port + 10000, Redis's
   * default, may not exist).
   */
  static async start (options: { cluster?: boolean } = {}): Promise<RedisServer> {
    const dir = mkdtempSync(join(tmpdir(), 'fah-redis-'))
    let lastError: unknown
    for (let attempt = 0; attempt < 3; attempt++) {
      const extra = options.cluster === true
        ? ['--cluster-enabled', 'yes', '--cluster-port', String(await freePort()), '--cluster-config-file', 'nodes.conf']
        : []
      const server = new RedisServer(await freePort(), dir, extra)
      try {
        await server.#spawn()
        return server
      } catch (error) {
        lastError = error
      }
    }
    rmSync(dir, { recursive: true, force: true })
    throw lastError
  }

  get pid (): number | undefined {
    return this.#child?.pid
  }

  #spawn (): Promise<void> {
    // setpriv execs redis-server in its own process, so the child's pid is the server's, for kill, pause and resume.
    const child = spawn(...command([
      '--port', String(this.port),
      '--bind', '127.0.0.1',
      '--save', '',
      '--appendonly', 'no',
      '--dir', this.#dir,
      '--daemonize', 'no',
      '--loglevel', 'notice',
      ...this.#extra
    ]), { stdio: ['ignore', 'pipe', 'pipe'] })
    this.#child = child
    running.add(child)
    child.once('exit', () => running.delete(child))
    let output = ''
    const ready = new Promise<void>((resolve, reject) => {
      const onData = (chunk: Buffer): void => {
        output += chunk.toString()
        if (output.includes('Ready to accept connections')) {
          child.stdout?.off('data', onData)
          // Keep draining, so a chatty server never blocks on a full pipe.
          child.stdout?.resume()
          resolve()
        }
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', (chunk: Buffer) => { output += chunk.toString() })
      child.once('error', reject)
      child.once('exit', (code, signal) => reject(new Error(`redis-server exited (${code ?? signal}) before it was ready:\n${output}`)))
    })
    return within(ready, START_TIMEOUT, `redis-server on port ${this.port}`).catch(async (error: unknown) => {
      child.kill('SIGKILL')
      await within(exited(child), STOP_TIMEOUT, 'redis-server exit').catch(() => {})
      throw error
    })
  }

  /** SIGKILL: the server dies at once, without a word to its clients. */
  async kill (): Promise<void> {
    const child = this.#child
    if (child === undefined) return
    child.kill('SIGKILL')
    await within(exited(child), STOP_TIMEOUT, 'redis-server exit after SIGKILL')
    this.#child = undefined
  }

  /** SIGSTOP: connections stay open and nothing answers, like a server stuck on a slow disk or a dead network path. */
  pause (): void {
    this.#child?.kill('SIGSTOP')
  }

  resume (): void {
    this.#child?.kill('SIGCONT')
  }

  /** A new, empty server on the same port (persistence is off). */
  async restart (): Promise<void> {
    await this.kill()
    await this.#spawn()
  }

  async stop (): Promise<void> {
    const child = this.#child
    if (child !== undefined) {
      // A stopped process does not act on SIGTERM until it is continued.
      child.kill('SIGCONT')
      child.kill('SIGTERM')
      await within(exited(child), STOP_TIMEOUT, 'redis-server exit after SIGTERM').catch(async () => {
        child.kill('SIGKILL')
        await within(exited(child), STOP_TIMEOUT, 'redis-server exit after SIGKILL')
      })
      this.#child = undefined
    }
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

let shared: Promise<RedisServer> | undefined

/**
 * The Redis URL for tests that only need some Redis: REDIS_URL when set, else one server of the process's own, started
 * at the first call and stopped when the process's tests end (tests keep apart by key prefix, as on a shared
 * REDIS_URL). Call it only when `redisSkipReason()` is false.
 */
export async function redisFor (): Promise<string> {
  if (process.env.REDIS_URL) return process.env.REDIS_URL
  if (shared === undefined) {
    const starting = RedisServer.start()
    shared = starting
    tap.teardown(async () => { await (await starting).stop() })
  }
  return (await shared).url
}
