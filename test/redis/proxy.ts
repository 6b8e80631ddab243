import { createServer, connect, type Server, type Socket } from 'node:net'
import { within } from './server'

/**
 * A TCP proxy in front of a redis-server that delays every chunk by `delay` ms each way, as a network hop would, and
 * notes when each chunk from a client arrives. node-redis writes the commands issued together in one chunk, and a
 * command that needs another's answer cannot leave before that answer came back, 2 × `delay` later: so chunks that
 * arrive within `delay` of the first of a group are one round trip of latency ("a flight"), and the number of flights
 * is how many round trips a request waits for in a row.
 */
export class DelayProxy {
  readonly #server: Server
  readonly #sockets = new Set<Socket>()
  readonly #arrivals: number[]
  readonly delay: number
  port = 0

  private constructor (upstreamPort: number, delay: number, arrivals: number[]) {
    this.delay = delay
    this.#arrivals = arrivals
    this.#server = createServer(client => {
      const upstream = connect(upstreamPort, '127.0.0.1')
      this.#sockets.add(client).add(upstream)
      client.setNoDelay(true)
      upstream.setNoDelay(true)
      client.on('data', chunk => {
        this.#arrivals.push(performance.now())
        setTimeout(() => upstream.write(chunk), delay)
      })
      upstream.on('data', chunk => { setTimeout(() => client.write(chunk), delay) })
      const close = (): void => {
        client.destroy()
        upstream.destroy()
        this.#sockets.delete(client)
        this.#sockets.delete(upstream)
      }
      client.on('close', close).on('error', close)
      upstream.on('close', close).on('error', close)
    })
  }

  /** `arrivals` may be shared by several proxies (one per cluster node), which then count flights together. */
  static async start (upstreamPort: number, delay: number, arrivals: number[] = []): Promise<DelayProxy> {
    const proxy = new DelayProxy(upstreamPort, delay, arrivals)
    const server = proxy.#server
    await within(new Promise<void>((resolve, reject) => {
      server.once('error', reject)
      server.listen(0, '127.0.0.1', () => resolve())
    }), 5000, 'the delaying proxy')
    proxy.port = (server.address() as { port: number }).port
    return proxy
  }

  /** Forgets the chunks relayed so far. */
  reset (): void {
    this.#arrivals.length = 0
  }

  /** Round trips of latency since the last reset: groups of chunks that arrived within `delay` of each other. */
  get flights (): number {
    let flights = 0
    let start = -Infinity
    for (const at of this.#arrivals) {
      if (at - start > this.delay) {
        flights++
        start = at
      }
    }
    return flights
  }

  async close (): Promise<void> {
    for (const socket of this.#sockets) socket.destroy()
    await new Promise<void>(resolve => this.#server.close(() => resolve()))
  }
}

/** Command name -> calls so far, from INFO commandstats (commands run by scripts are counted under their own names). */
export function commandStats (info: string): Map<string, number> {
  const calls = new Map<string, number>()
  for (const match of info.matchAll(/^cmdstat_([^:]+):calls=(\d+)/gm)) calls.set(match[1] as string, Number(match[2]))
  return calls
}

/** What ran between two commandstats readings, without the INFO commands that read them. */
export function commandDelta (before: Map<string, number>, after: Map<string, number>): Record<string, number> {
  const delta: Record<string, number> = {}
  for (const [name, calls] of after) {
    const ran = calls - (before.get(name) ?? 0)
    if (ran > 0 && name !== 'info') delta[name] = ran
  }
  return delta
}
