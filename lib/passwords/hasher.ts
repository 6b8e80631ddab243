import * as argon2 from 'argon2'
import { randomBytes } from 'node:crypto'
import { availableParallelism } from 'node:os'
import { BusyError } from '../errors'
import type { HashOptions } from '../../types/index'
import { ARGON2_DEFAULTS } from '../options/passwords'

/** A PHC argon2 hash as argon2 writes it, with the smallest salt (8 bytes) and output (4 bytes) it accepts. */
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

/** Whether argon2 can verify against `value`; anything else costs the dummy verify, as a wrong password does. */
export function isArgon2Hash (value: unknown): value is string {
  return hashParameters(value) !== null
}

/** The cost parameters of an argon2 hash that argon2 can verify against, or null (see isArgon2Hash). */
function hashParameters (value: unknown): { m: number, t: number, p: number } | null {
  if (typeof value !== 'string' || value.length >= 1024) return null
  const match = ARGON2_HASH.exec(value)
  return match === null ? null : argon2Parameters(match[1] as string)
}

/** NFC, as RFC 8265 (OpaqueString) compares passwords: one password however a system composes its characters. */
function normalize (password: string): string {
  return password.normalize('NFC')
}

/** As many argon2 calls as the cores run side by side: more would hash no faster and crowd the event loop out. */
export function argon2Concurrency (parallelism: number = ARGON2_DEFAULTS.parallelism, cores = availableParallelism()): number {
  return Math.max(1, Math.floor(cores / parallelism))
}

/**
 * Runs at most `limit` tasks at once, queues up to `maxQueued` more in order, and refuses the rest with BusyError at
 * once: unbounded, a flood of logins would be hashed long after their clients gave up.
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

  /** What failures verify against, so an unknown user costs one verify; made once, at ready, outside the queue. */
  dummyHash (): Promise<string> {
    this.#dummy ??= argon2.hash(randomBytes(16).toString('base64url'), this.#options)
    return this.#dummy
  }

  /**
   * At least one verify at the current parameters whatever `hash` is, in one turn of the queue, so that no stored hash
   * answers sooner than an unknown user (docs/architecture.md, "The cost of a failed login").
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
