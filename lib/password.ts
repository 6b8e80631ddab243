import * as argon2 from 'argon2'
import { randomBytes } from 'node:crypto'
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

export class PasswordHasher {
  readonly #options: HashOptions & { type: typeof argon2.argon2id }
  #dummy: Promise<string> | undefined

  constructor (options: HashOptions) {
    this.#options = { ...options, type: argon2.argon2id }
  }

  hash (plain: string): Promise<string> {
    return argon2.hash(normalize(plain), this.#options)
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
      matches = await argon2.verify(digest, normalize(plain))
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
