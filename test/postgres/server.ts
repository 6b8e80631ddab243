import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

/**
 * A PostgreSQL cluster of the tests' own, like test/redis/server.ts's Redis: made by initdb in a temporary directory,
 * listening on 127.0.0.1 on a free port (its socket in that directory too), with fsync off, thrown away at the end.
 * PostgreSQL refuses to run as root, and the tests run as root on CI: then the cluster runs as the `postgres` user
 * that Debian's package creates. Every wait has a deadline, so a broken server fails the test instead of hanging it.
 */

const START_TIMEOUT = 30_000
const STOP_TIMEOUT = 10_000
const SUPERUSER = 'test'
const INSTALL = 'Debian: apt-get install postgresql'

let found: { bin: string } | { missing: string } | undefined

/** initdb and postgres: Debian keeps them in /usr/lib/postgresql/<version>/bin, off PATH; elsewhere they are on it. */
function binaries (): { bin: string } | { missing: string } {
  if (found !== undefined) return found
  const root = '/usr/lib/postgresql'
  const versions = existsSync(root) ? readdirSync(root).filter(name => existsSync(join(root, name, 'bin', 'initdb'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  const bin = versions[0] === undefined ? '' : join(root, versions[0], 'bin')
  const probe = spawnSync(join(bin, 'initdb'), ['--version'], { timeout: 5000, stdio: 'ignore' })
  found = probe.error === undefined && probe.status === 0
    ? { bin }
    : { missing: `PostgreSQL's initdb is not installed (${INSTALL})` }
  return found
}

function postgresUid (): { uid: number, gid: number } | undefined {
  const ids = ['-u', '-g'].map(flag => spawnSync('id', [flag, 'postgres'], { encoding: 'utf8', timeout: 5000 }))
  if (ids.some(id => id.status !== 0)) return undefined
  return { uid: Number(ids[0]?.stdout), gid: Number(ids[1]?.stdout) }
}

/** Why the PostgreSQL tests cannot run here (a reason for tap's `skip`), or false when they can. */
export function postgresSkipReason (): string | false {
  const bin = binaries()
  if ('missing' in bin) return `${bin.missing}: skipping the PostgreSQL tests`
  if (process.getuid?.() === 0 && postgresUid() === undefined) {
    return 'running as root and there is no `postgres` user to run PostgreSQL as (it refuses root): skipping the PostgreSQL tests'
  }
  return false
}

/**
 * The command line that runs `program` as the cluster's owner: as root, setpriv switches to `postgres` and execs the
 * program in the same process (so the child's pid is the server's), asking the kernel to kill it if the test process
 * dies however it dies (tap ends a test that times out without running exit handlers).
 */
function command (program: string, args: string[]): [string, string[]] {
  const path = join((binaries() as { bin: string }).bin, program)
  if (process.getuid?.() !== 0) return [path, args]
  return ['setpriv', ['--reuid=postgres', '--regid=postgres', '--init-groups', '--pdeathsig', 'SIGKILL', '--', path, ...args]]
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

function within<T> (promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const deadline = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms)
  })
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer))
}

function exited (child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => child.once('exit', () => resolve()))
}

const running = new Set<ChildProcess>()
// A test that dies before its teardown must not leave a postgres behind (setpriv's pdeathsig covers the rest).
process.once('exit', () => { for (const child of running) child.kill('SIGKILL') })

export class PostgresServer {
  readonly port: number
  /** A connection string for the superuser, to the `postgres` database. */
  readonly url: string
  readonly #dir: string
  readonly #child: ChildProcess

  private constructor (port: number, dir: string, child: ChildProcess) {
    this.port = port
    this.url = `postgres://${SUPERUSER}@127.0.0.1:${port}/postgres`
    this.#dir = dir
    this.#child = child
  }

  static async start (): Promise<PostgresServer> {
    const dir = mkdtempSync(join(tmpdir(), 'fah-postgres-'))
    try {
      const owner = process.getuid?.() === 0 ? postgresUid() : undefined
      if (owner !== undefined) chownSync(dir, owner.uid, owner.gid)
      const data = join(dir, 'data')
      // Trust: only this user's processes reach 127.0.0.1 and the socket in a directory of the test's own.
      const init = spawnSync(...command('initdb', [
        '-D', data, '-U', SUPERUSER, '--auth=trust', '--encoding=UTF8', '--no-locale', '--no-sync'
      ]), { encoding: 'utf8', timeout: START_TIMEOUT })
      if (init.status !== 0) throw new Error(`initdb failed (${init.status ?? init.error?.message}):\n${init.stdout}${init.stderr}`)
      let lastError: unknown
      for (let attempt = 0; attempt < 3; attempt++) {
        const port = await freePort()
        try {
          return new PostgresServer(port, dir, await spawnServer(data, dir, port))
        } catch (error) {
          lastError = error
        }
      }
      throw lastError
    } catch (error) {
      rmSync(dir, { recursive: true, force: true })
      throw error
    }
  }

  /** Fast shutdown (SIGINT): clients are disconnected rather than waited for, then the cluster's files go. */
  async stop (): Promise<void> {
    const child = this.#child
    child.kill('SIGINT')
    await within(exited(child), STOP_TIMEOUT, 'postgres exit after SIGINT').catch(async () => {
      child.kill('SIGKILL')
      await within(exited(child), STOP_TIMEOUT, 'postgres exit after SIGKILL')
    })
    rmSync(this.#dir, { recursive: true, force: true })
  }
}

async function spawnServer (data: string, socketDir: string, port: number): Promise<ChildProcess> {
  const child = spawn(...command('postgres', [
    '-D', data, '-p', String(port), '-k', socketDir,
    '-c', 'listen_addresses=127.0.0.1', '-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'
  ]), { stdio: ['ignore', 'pipe', 'pipe'] })
  running.add(child)
  child.once('exit', () => running.delete(child))
  let output = ''
  const ready = new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('database system is ready to accept connections')) {
        // Keep draining, so a chatty server never blocks on a full pipe.
        child.stderr?.off('data', onData)
        child.stderr?.resume()
        resolve()
      }
    }
    child.stderr?.on('data', onData)
    child.stdout?.resume()
    child.once('error', reject)
    child.once('exit', (code, signal) => reject(new Error(`postgres exited (${code ?? signal}) before it was ready:\n${output}`)))
  })
  try {
    await within(ready, START_TIMEOUT, `postgres on port ${port}`)
    return child
  } catch (error) {
    child.kill('SIGKILL')
    await within(exited(child), STOP_TIMEOUT, 'postgres exit').catch(() => {})
    throw error
  }
}

/** A PostgreSQL connection string for tests: a cluster of the test's own, stopped at the end of `t`. */
export async function postgresFor (t: { teardown: (fn: () => unknown) => void }): Promise<string> {
  const server = await PostgresServer.start()
  t.teardown(() => server.stop())
  return server.url
}
