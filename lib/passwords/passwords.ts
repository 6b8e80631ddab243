import type { FastifyBaseLogger, FastifyInstance, FastifyRequest } from 'fastify'
import { InvalidArgumentError } from '../errors'
import type { Registration } from '../registration'
import { PasswordHasher } from './hasher'
import { createUserTokens, type UserTokens } from './user-tokens'

/** What one registration's password features share. */
export interface Passwords {
  readonly registration: Registration
  readonly hasher: PasswordHasher
  readonly tokens: UserTokens
  readonly log: FastifyBaseLogger
  /** Resets in progress on this instance, by user id: a second use of one token waits for the first, then fails. */
  readonly resetting: Map<unknown, Promise<unknown>>
  /** Reset requests being looked up or mailed, finished before the app closes. */
  readonly pendingRequests: Set<Promise<void>>
}

const kPasswords = Symbol('fastify-auth-helpers.passwords')

type WithPasswords = FastifyInstance & { [kPasswords]?: Passwords }

export function createPasswords (fastify: FastifyInstance, registration: Registration): Passwords {
  const { options } = registration
  const passwords: Passwords = {
    registration,
    hasher: new PasswordHasher(options.hashOptions, { maxQueued: options.maxQueuedHashes }),
    tokens: createUserTokens(registration, options.userTokenKeys),
    log: fastify.log,
    resetting: new Map(),
    pendingRequests: new Set()
  }
  fastify.decorate(kPasswords, passwords)
  return passwords
}

export function passwordsOf (request: FastifyRequest): Passwords {
  const passwords = (request.server as WithPasswords)[kPasswords]
  if (passwords === undefined) throw new InvalidArgumentError('fastify-auth-helpers is not registered on this Fastify instance')
  return passwords
}
