import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { Backend } from './backend'
import { isSupportedBackend, type BackendName } from './constants'
import { BackendNotConfiguredError, InvalidArgumentError, InvalidOptionError, UnsupportedBackendError } from './errors'
import type { JwtBackend } from './jwt/backend'
import type { Logins } from './login-store/logins'
import type { ResolvedOptions, User } from './options'

/** One place a request's login is looked for: a backend, and how it tells that the request carries one. */
export interface Carrier {
  backend: Backend
  carries (request: FastifyRequest): boolean
}

/** Everything one registration of the plugin knows, shared by its decorators and the request-first functions. */
export interface Registration {
  readonly options: ResolvedOptions
  readonly backends: { readonly session?: Backend, readonly jwt?: JwtBackend }
  /** Where a request's login is looked for, in order (docs/architecture.md, "Which login a request carries"). */
  readonly resolutionOrder: readonly Carrier[]
  /** The backend of `login`/`logout`/`getUserId` calls that name none; `setDefaultAuthBackend` changes it. */
  defaultBackend: BackendName
  /** The auth hash of a user (docs/architecture.md, "The auth hash"), of another password hash when given. */
  readonly authHash: (user: User, passwordHash?: string) => string
  /** The store that keeps every login of this registration, when one can list and end them. */
  readonly logins: Logins | undefined
  /** Gives the logins that no store keeps (JWT without a login store) their times. */
  readonly unstored: Logins
  /** The `WWW-Authenticate` challenge of a 401, when a backend has one. */
  readonly challenge: ((request: FastifyRequest) => string) | undefined
}

const kRegistration = Symbol('fastify-auth-helpers.registration')

type Registered = FastifyInstance & { [kRegistration]?: Registration }

export function decorateRegistration (fastify: FastifyInstance, registration: Registration): void {
  fastify.decorate(kRegistration, registration)
}

export function registrationOf (request: FastifyRequest): Registration {
  const registration = (request.server as Registered)[kRegistration]
  if (registration === undefined) throw new InvalidArgumentError('fastify-auth-helpers is not registered on this Fastify instance')
  return registration
}

export function backendNamed (registration: Registration, name: unknown = registration.defaultBackend): Backend {
  if (!isSupportedBackend(name)) throw new UnsupportedBackendError(name)
  const backend = registration.backends[name]
  if (backend === undefined) throw new BackendNotConfiguredError(name, name)
  return backend
}

/** Per app (its server is the one object every encapsulated context shares), the auth hash keys its registrations use. */
const authHashKeys = new WeakMap<object, Array<{ key: Buffer, users: object }>>()

/**
 * Two registrations with other user stores that read the same logins and key their auth hashes alike would take one
 * store's user for the other's with the same id (docs/registering.md): nothing at request time tells them apart.
 */
export function claimAuthHashKey (fastify: FastifyInstance, secret: string | Buffer, users: object): void {
  const key = Buffer.from(secret)
  const claimed = authHashKeys.get(fastify.server) ?? []
  authHashKeys.set(fastify.server, claimed)
  if (claimed.some(other => other.users !== users && other.key.equals(key))) {
    throw new InvalidOptionError('another registration of fastify-auth-helpers in this app has other `users` and the ' +
      'same auth hash key (`authHashSecret`, else the session or JWT secret): a login made by one would be taken by ' +
      'the other for its user with the same id. Give each registration its own `authHashSecret` (and its own session ' +
      'cookie or JWT secret), or the same `users`')
  }
  claimed.push({ key, users })
}
