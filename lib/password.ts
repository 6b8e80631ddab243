import * as argon2 from 'argon2'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { BusyError } from './errors'
import type { HashOptions } from '../types/index'

/**
 * A PHC-format argon2 hash as argon2 writes it: unpadded base64, a salt of at least 8 bytes (11 characters) and an
 * output of at least 4 bytes (6 characters), the minimums argon2 accepts. The parameters are checked by `argon2Parameters`.
 */
const ARGON2_HASH = /^\$argon2(?:id|i|d)\$v=(?:16|19)\$([mtp]=\d{1,10},[mtp]=\d{1,10},[mtp]=\d{1,10})\$[A-Za-z0-9+/]{11,}\$[A-Za-z0-9+/]{6,}$/

const MAX_UINT32 = 2 ** 32 - 1
const MAX_PARALLELISM = 2 ** 24 - 1

/** m, t and p, each exactly once and within argon2's limits (m of at least 8 KiB per lane), or null. */
function argon2Parameters (params: string): { m: number, t: number, p: number } | null {
  const values: Record<string, number> = {}
  for (const pair of params.split(',')) values[pair[0] as string] = Number(pair.slice(2))
  const { m, t, p } = values
  if (m === undefined || t === undefined || p === undefined) return null
  return p >= 1 && p <= MAX_PARALLELISM && t >= 1 && t <= MAX_UINT32 && m >= 8 * p && m <= MAX_UINT32 ? { m, t, p } : null
}

/**
 * Whether argon2 can verify against `value`. Anything it would reject is "no usable hash" and costs a verify against
 * the dummy hash instead: a malformed hash must not fail faster, and so more visibly, than a wrong password.
 */
export function isArgon2Hash (value: unknown): value is string {
  return hashParameters(value) !== null
}

/** The cost parameters of an argon2 hash that argon2 can verify against, or null (see isArgon2Hash). */
function hashParameters (value: unknown): { m: number, t: number, p: number } | null {
  if (typeof value !== 'string' || value.length >= 1024) return null
  const match = ARGON2_HASH.exec(value)
  return match === null ? null : argon2Parameters(match[1] as string)
}

const LONE_SURROGATE = /\p{Cs}/u

/**
 * Whether a string is well-formed UTF-16, i.e. has no lone surrogate. UTF-8 encoding (argon2's, and most databases')
 * turns every lone surrogate into U+FFFD, so "\uD800", "\uDFFF" and "\uFFFD" would all be the same password.
 */
export function isWellFormed (value: string): boolean {
  return !LONE_SURROGATE.test(value)
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

/**
 * Runs at most `limit` tasks at once; up to `maxQueued` others wait their turn, first come first served, and the
 * rest are refused at once with BusyError, their task never run. Without the bound a flood of logins would queue
 * without end, each holding its request, and be hashed long after its client gave up.
 */
export class Gate {
  #running = 0
  readonly #waiting: Array<() => void> = []

  constructor (readonly limit: number, readonly maxQueued: number) {}

  /** How many tasks wait for a slot. */
  get queued (): number {
    return this.#waiting.length
  }

  /** Whether a task given now would be refused. */
  get full (): boolean {
    return this.#running >= this.limit && this.#waiting.length >= this.maxQueued
  }

  async run<T> (task: () => Promise<T>): Promise<T> {
    if (this.full) throw new BusyError()
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

export interface QueueOptions {
  /** How many argon2 calls run at once. Default: `argon2Concurrency(parallelism)`. */
  concurrency?: number
  /** How many more may wait for a slot before the rest are refused with BusyError. */
  maxQueued: number
}

/** argon2's own defaults, which apply to any cost parameter `hashOptions` leaves out. */
export const ARGON2_DEFAULTS = { memoryCost: 65536, timeCost: 3, parallelism: ARGON2_DEFAULT_PARALLELISM }

export class PasswordHasher {
  readonly #options: HashOptions & { type: typeof argon2.argon2id }
  readonly #current: { m: number, t: number, p: number }
  readonly #gate: Gate
  #dummy: Promise<string> | undefined

  constructor (options: HashOptions, { concurrency = argon2Concurrency(options.parallelism), maxQueued }: QueueOptions) {
    this.#options = { ...options, type: argon2.argon2id }
    const { memoryCost: m, timeCost: t, parallelism: p } = { ...ARGON2_DEFAULTS, ...options }
    this.#current = { m, t, p }
    this.#gate = new Gate(concurrency, maxQueued)
  }

  /** How many argon2 calls this hasher runs at once. */
  get concurrency (): number {
    return this.#gate.limit
  }

  /** Whether an argon2 call made now would be refused with BusyError. */
  get full (): boolean {
    return this.#gate.full
  }

  /** How many argon2 calls wait for a slot. */
  get queued (): number {
    return this.#gate.queued
  }

  hash (plain: string): Promise<string> {
    const normalized = normalize(plain)
    return this.#gate.run(() => argon2.hash(normalized, this.#options))
  }

  /**
   * A hash of a random password with the current parameters. Failure paths verify against it, so an unknown
   * user costs one argon2 verify, like a wrong password does. Made outside the queue: it is made once (at ready,
   * before any request), and a verify must never wait in the queue for a dummy queued behind its own slot.
   */
  dummyHash (): Promise<string> {
    this.#dummy ??= argon2.hash(randomBytes(16).toString('base64url'), this.#options)
    return this.#dummy
  }

  /**
   * At least the work of one argon2 verify with the current parameters, whatever `hash` is, so that no stored hash
   * answers faster than an unknown user (whose check is the dummy verify):
   * - a usable hash made with the current parameters: its own verify, and nothing else;
   * - a hash made with other parameters (`hashOptions` changed since): its own verify, then the dummy one (Django's
   *   `harden_runtime`, done here with argon2's own parameters rather than by counting iterations). On success too:
   *   an inactive user's right password is a failure the caller decides later. Until the hash is upgraded (login
   *   rehashes it when `users.updatePasswordHash` is given) such an account still costs its own verify on top, so a
   *   weaker old hash adds a little and a stronger one more: SECURITY.md, row 5;
   * - no usable hash, or one argon2 refuses after all (it asks for more memory than can be allocated, and fails in
   *   microseconds): the dummy verify. Never a 500, and no faster than a wrong password.
   *
   * The whole check takes one turn in the queue, entered at the same point whatever `hash` is: a second verify does
   * not go back to the end of the queue, which under load would answer later than a wrong password and tell the two
   * apart.
   */
  async verify (hash: unknown, plain: string): Promise<boolean> {
    const password = normalize(plain)
    const dummy = await this.dummyHash()
    const parameters = hashParameters(hash)
    return this.#gate.run(async () => {
      let matches = false
      let costCurrent = false
      if (parameters !== null) {
        try {
          matches = await argon2.verify(hash as string, password)
          costCurrent = parameters.m === this.#current.m && parameters.t === this.#current.t && parameters.p === this.#current.p
        } catch {}
      }
      if (!costCurrent) await argon2.verify(dummy, password)
      return matches
    })
  }

  needsRehash (hash: string): boolean {
    return !hash.startsWith('$argon2id$') || argon2.needsRehash(hash, this.#options)
  }
}
