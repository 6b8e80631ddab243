import * as argon2 from 'argon2'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import type { HashOptions } from './options'

/** A PHC-format argon2 hash as argon2 writes it. Anything else is treated as "no usable hash". */
const ARGON2_HASH = /^\$argon2(?:id|i|d)\$v=\d+\$(?:[mtp]=\d+,){2}[mtp]=\d+\$[A-Za-z0-9+/]+={0,2}\$[A-Za-z0-9+/]+={0,2}$/

export function isArgon2Hash (value: unknown): value is string {
  return typeof value === 'string' && value.length < 1024 && ARGON2_HASH.test(value)
}

/**
 * Passwords are compared as NFC, the normalization RFC 8265 (OpaqueString) gives them, so the same password typed on
 * systems that compose characters differently still matches. `hashPassword` and `verify` normalize alike.
 */
function normalize (password: string): string {
  return password.normalize('NFC')
}

/** argon2's own default, used when the options name none. */
const ARGON2_DEFAULT_PARALLELISM = 4

/**
 * How many argon2 calls may run at once: as many as the cores can run side by side, each using `parallelism` threads,
 * and at least one. More would not hash faster (argon2 is bound by CPU and memory bandwidth), but each would take
 * a libuv thread-pool slot (which file reads and DNS lookups wait behind) and 64 MiB, and the threads would crowd the
 * main thread off the cores: with 8 logins at once on 2 cores, the event loop's p99 delay tripled (bench/README.md).
 */
export function argon2Concurrency (parallelism = ARGON2_DEFAULT_PARALLELISM, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / parallelism))
}

/** Runs at most `limit` tasks at once; the others wait their turn, first come first served. */
export class Gate {
  #running = 0
  readonly #waiting: Array<() => void> = []

  constructor (readonly limit: number) {}

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.#running < this.limit) this.#running++
    else await new Promise<void>(resolve => this.#waiting.push(resolve))
    try {
      return await task()
    } finally {
      // The slot passes straight to the next in line, so a newcomer cannot overtake the queue.
      const next = this.#waiting.shift()
      if (next === undefined) this.#running--
      else next()
    }
  }
}

export class PasswordHasher {
  readonly #options: HashOptions & { type: typeof argon2.argon2id }
  readonly #gate: Gate
  #dummy: Promise<string> | undefined

  constructor (options: HashOptions, concurrency = argon2Concurrency(options.parallelism)) {
    this.#options = { ...options, type: argon2.argon2id }
    this.#gate = new Gate(concurrency)
  }

  /** How many argon2 calls this hasher runs at once. */
  get concurrency (): number {
    return this.#gate.limit
  }

  hash (plain: string): Promise<string> {
    const normalized = normalize(plain)
    return this.#gate.run(() => argon2.hash(normalized, this.#options))
  }

  /**
   * A hash of a random password with the current parameters. Failure paths verify against it, so an unknown
   * user costs one argon2 verify, like a wrong password does.
   */
  dummyHash (): Promise<string> {
    this.#dummy ??= this.hash(randomBytes(16).toString('base64url'))
    return this.#dummy
  }

  /** Exactly one argon2 verify, against `hash` when it is usable and against the dummy hash when it is not. */
  async verify (hash: unknown, plain: string): Promise<boolean> {
    const usable = isArgon2Hash(hash)
    const digest = usable ? hash : await this.dummyHash()
    let matches: boolean
    try {
      const normalized = normalize(plain)
      matches = await this.#gate.run(() => argon2.verify(digest, normalized))
    } catch {
      // A hash that looks like argon2's but that argon2 cannot read: no match, never a 500.
      matches = false
    }
    return usable && matches
  }

  needsRehash (hash: string): boolean {
    return !hash.startsWith('$argon2id$') || argon2.needsRehash(hash, this.#options)
  }
}
