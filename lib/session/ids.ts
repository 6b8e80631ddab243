import { randomBytes } from 'node:crypto'
import type { FastifyRequest } from 'fastify'
import { contextOf, peekContext } from '../context'
import { withTimeout, type SessionStore } from '../store'

/**
 * Logged-in sessions get ids of their own length (32 random bytes) and anonymous ones keep @fastify/session's (24),
 * so the cookie alone says whether a login record is worth reading before the session is loaded.
 */
export const LOGIN_SESSION_ID_LENGTH = 43

export interface SessionLike {
  [key: string]: unknown
  cookie: { expires?: Date | null, originalMaxAge?: number | null, maxAge?: number | null, secure?: unknown }
  sessionId: string
  regenerate (keys?: string[]): Promise<void>
}

export interface SessionIds {
  /** @fastify/session's `idGenerator`: login ids from here, every other id from the app's generator or a default one. */
  idGenerator (request: FastifyRequest): string
  /** The store @fastify/session gets: `regenerate()`'s own write of a session this registration made is skipped. */
  skippingRegenerateWrites (store: SessionStore): SessionStore
  /** `session.regenerate(keys)`, bounded; resolves whether the new session was left unsaved. */
  regenerate (request: FastifyRequest, session: SessionLike, keys: string[], why: 'login' | 'empty', storeTimeout: number): Promise<boolean>
}

/**
 * `regenerate()` writes the new session at once: a round trip a login does not need (its session is saved at the end
 * of the request anyway) and a logout must not make (its empty session is saved only if the route writes to it).
 */
export function sessionIds (appGenerator: ((request: FastifyRequest) => string) | undefined): SessionIds {
  // Each id is random, and removed at its first write, which regenerate() always makes.
  const unsaved = new Set<string>()
  return {
    idGenerator (request) {
      const context = peekContext(request)
      const regenerating = context?.regenerating
      const id = regenerating === 'login'
        ? randomBytes(32).toString('base64url')
        : appGenerator === undefined ? randomBytes(24).toString('base64url') : appGenerator(request)
      if (regenerating !== undefined) {
        unsaved.add(id)
        ;(context as NonNullable<typeof context>).regeneratedId = id
      }
      return id
    },

    skippingRegenerateWrites (store) {
      return Object.create(store, {
        set: {
          value: function set (id: string, value: unknown, callback: (error?: unknown) => void) {
            if (unsaved.delete(id)) callback()
            else store.set(id, value, callback)
          }
        }
      })
    },

    async regenerate (request, session, keys, why, storeTimeout) {
      const context = contextOf(request)
      context.regenerating = why
      context.regeneratedId = undefined
      let regenerated: Promise<void>
      try {
        regenerated = session.regenerate(keys)
      } finally {
        context.regenerating = undefined
      }
      await withTimeout(regenerated, storeTimeout, 'Session store regenerate')
      const fresh = (request as unknown as { session?: SessionLike | null }).session
      return context.regeneratedId !== undefined && context.regeneratedId === fresh?.sessionId
    }
  }
}
