import { createHmac } from 'node:crypto'
import type { HashOptions, PasswordPolicy } from '../../types/index'
import { checkFunction, checkObject, fail, isSecret, positiveInteger } from './check'

/** argon2's own defaults (RFC 9106's second recommendation), for any cost `hashOptions` leaves out. */
export const ARGON2_DEFAULTS = Object.freeze({ memoryCost: 65536, timeCost: 3, parallelism: 4 })

/**
 * OWASP's Password Storage Cheat Sheet: five argon2id configurations of equal strength (KiB for passes, p=1). For the
 * configured passes, at least the memory OWASP pairs with them; lanes split the memory, so parallelism lowers nothing.
 */
const OWASP_ARGON2ID_FLOOR: ReadonlyArray<readonly [timeCost: number, memoryCost: number]> = [
  [1, 47104], [2, 19456], [3, 12288], [4, 9216], [5, 7168]
]

/**
 * How many argon2 calls may wait for a slot: at 50 to 100 ms a verify, the last of 100 waits 5 to 10 s, about as long
 * as anyone watches a login form spin (docs/performance.md, "Under load").
 */
const DEFAULT_MAX_QUEUED_HASHES = 100

const USER_TOKEN_KEY_LABEL = 'fastify-auth-helpers:user-token-key'

export interface ResolvedPasswordOptions {
  hashOptions: Required<HashOptions>
  maxPasswordLength: number
  maxUsernameLength: number
  maxQueuedHashes: number
  passwordPolicy: PasswordPolicy<object> | undefined
  /** The keys of user tokens, the signing one first. */
  userTokenKeys: Buffer[]
}

function resolveHashOptions (value: unknown): Required<HashOptions> {
  // Every other argon2 option would weaken or break every hash: a fixed `salt`, a short `hashLength`, `raw` output.
  const given = checkObject(value ?? {}, 'hashOptions', ['memoryCost', 'timeCost', 'parallelism'], 'an object')
  const hashOptions = {
    memoryCost: positiveInteger(given.memoryCost, 'hashOptions.memoryCost', ARGON2_DEFAULTS.memoryCost),
    timeCost: positiveInteger(given.timeCost, 'hashOptions.timeCost', ARGON2_DEFAULTS.timeCost),
    parallelism: positiveInteger(given.parallelism, 'hashOptions.parallelism', ARGON2_DEFAULTS.parallelism)
  }
  const { memoryCost, timeCost } = hashOptions
  const [, floor] = OWASP_ARGON2ID_FLOOR[Math.min(timeCost, OWASP_ARGON2ID_FLOOR.length) - 1] as readonly [number, number]
  if (memoryCost < floor) {
    fail(`\`hashOptions\` (memoryCost ${memoryCost} KiB, timeCost ${timeCost}) is below the argon2id minimum of OWASP's ` +
      `Password Storage Cheat Sheet: with timeCost ${timeCost}, memoryCost must be at least ${floor} KiB (its table: ` +
      `${OWASP_ARGON2ID_FLOOR.map(([t, m]) => `m=${m} t=${t}`).join(', ')}; p=1)`)
  }
  return hashOptions
}

/** Without `userTokens.secret`, a key derived from the auth hash key under its own label: no MAC passes for the other. */
function resolveUserTokenKeys (value: unknown, authHashSecret: string | Buffer): Buffer[] {
  if (value === undefined) return [createHmac('sha256', authHashSecret).update(USER_TOKEN_KEY_LABEL).digest()]
  const { secret, previousSecrets = [] } = checkObject(value, 'userTokens', ['secret', 'previousSecrets'], 'an object `{ secret, previousSecrets }`')
  if (!isSecret(secret)) fail('`userTokens.secret` must be a string or Buffer of at least 32 characters')
  if (!Array.isArray(previousSecrets) || !previousSecrets.every(isSecret)) {
    fail('`userTokens.previousSecrets` must be an array of strings or Buffers of at least 32 characters')
  }
  return [secret, ...previousSecrets].map(key => Buffer.from(key))
}

export function resolvePasswordOptions (options: Record<string, unknown>, authHashSecret: string | Buffer): ResolvedPasswordOptions {
  return {
    hashOptions: resolveHashOptions(options.hashOptions),
    maxPasswordLength: positiveInteger(options.maxPasswordLength, 'maxPasswordLength', 4096),
    maxUsernameLength: positiveInteger(options.maxUsernameLength, 'maxUsernameLength', 512),
    maxQueuedHashes: positiveInteger(options.maxQueuedHashes, 'maxQueuedHashes', DEFAULT_MAX_QUEUED_HASHES),
    passwordPolicy: checkFunction(options.passwordPolicy, 'passwordPolicy'),
    userTokenKeys: resolveUserTokenKeys(options.userTokens, authHashSecret)
  }
}
