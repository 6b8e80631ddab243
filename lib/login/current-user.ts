import type { FastifyReply, FastifyRequest, HookHandlerDoneFunction } from 'fastify'
import type { UserId } from '../../types/index'
import type { Backend, StoredLogin } from '../backend'
import { contextOf } from '../context'
import { UnauthorizedError } from '../errors'
import type { User } from '../options'
import { backendNamed, registrationOf, type Registration } from '../registration'
import { requestBackend } from './login'
import { findUser, holdsLogin, logEndedLogin } from './users'

/**
 * The user behind the request's login with `backend`, or null (no login, the user gone or inactive, the password
 * changed since; a stale login is ended too). Without a promise when the backend and the user store answer at once.
 */
export function resolveUser (registration: Registration, backend: Backend, request: FastifyRequest): User | null | Promise<User | null> {
  const stored = backend.read(request)
  if (stored instanceof Promise) return stored.then(login => userOf(registration, backend, request, login))
  return userOf(registration, backend, request, stored)
}

function userOf (registration: Registration, backend: Backend, request: FastifyRequest, stored: StoredLogin | null): User | null | Promise<User | null> {
  if (stored === null) return null
  const found = findUser(registration, stored.userId)
  if (found instanceof Promise) return found.then(user => checked(registration, backend, request, stored, user))
  return checked(registration, backend, request, stored, found)
}

function checked (registration: Registration, backend: Backend, request: FastifyRequest, stored: StoredLogin, user: User | null): User | Promise<null> {
  if (holdsLogin(registration, user, stored.authHash)) return user
  logEndedLogin(registration, request, user, stored.userId)
  return backend.logout(request).then(() => null)
}

/** onRequest: anonymous requests finish without a promise or a store call, and so do synchronous stores' logins. */
export function resolveRequestUser (registration: Registration) {
  const order = registration.resolutionOrder
  return function resolveRequestUser (request: FastifyRequest, _reply: FastifyReply, done: HookHandlerDoneFunction): void {
    request.user = null
    for (const { backend, carries } of order) {
      if (!carries(request)) continue
      let user
      try {
        user = resolveUser(registration, backend, request)
      } catch (err) {
        done(err as Error)
        return
      }
      if (user instanceof Promise) {
        user.then(found => {
          settle(request, backend, found)
          done()
        }, done)
      } else {
        settle(request, backend, user)
        done()
      }
      return
    }
    done()
  }
}

function settle (request: FastifyRequest, backend: Backend, user: User | null): void {
  request.user = user as typeof request.user
  if (user !== null) contextOf(request).resolvedBy = backend.name
}

function unauthorized (registration: Registration, request: FastifyRequest): Error & { headers?: Record<string, string> } {
  const error = new UnauthorizedError() as Error & { headers?: Record<string, string> }
  if (registration.challenge !== undefined) error.headers = { 'www-authenticate': registration.challenge(request) }
  return error
}

/** `request.user`, never null; elsewhere the 401 of `app.requireUser`, its challenge in the error's headers. */
export function requireUser (request: FastifyRequest): User {
  const registration = registrationOf(request)
  if (request.user != null) return request.user
  throw unauthorized(registration, request)
}

/** `app.requireUser`, a preHandler. */
export function requireUserHandler (registration: Registration) {
  return async function requireUser (request: FastifyRequest, reply: FastifyReply): Promise<void> {
    if (request.user != null) return
    if (registration.challenge !== undefined) reply.header('WWW-Authenticate', registration.challenge(request))
    throw new UnauthorizedError()
  }
}

export async function getUserFromSession (request: FastifyRequest): Promise<User | null> {
  const registration = registrationOf(request)
  return await resolveUser(registration, backendNamed(registration, 'session'), request)
}

export async function getUserFromJwt (request: FastifyRequest): Promise<User | null> {
  const registration = registrationOf(request)
  return await resolveUser(registration, backendNamed(registration, 'jwt'), request)
}

/** The id `login` stored for that backend, or, unnamed, for the backend that authenticated the request. */
export function getUserId (request: FastifyRequest, backend?: unknown): UserId | null {
  const registration = registrationOf(request)
  return (backend === undefined ? requestBackend(registration, request) : backendNamed(registration, backend)).storedUserId(request)
}
