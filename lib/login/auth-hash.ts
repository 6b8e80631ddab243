import { createHmac } from 'node:crypto'
import type { User } from '../options'

const AUTH_HASH_CACHE_SIZE = 10_000

/** The id typed and length-prefixed, then the hash: no two (id, hash) pairs give one input. */
function authHashInput (id: unknown, passwordHash: unknown): string {
  const idText = typeof id === 'string' ? `s${id}` : typeof id === 'number' ? `n${id}` : '-'
  return `${idText.length}:${idText}:${typeof passwordHash === 'string' ? passwordHash : ''}`
}

/**
 * An HMAC of the user's id and password hash, kept with every login: a password change changes it and ends every
 * login made before (Django's session auth hash). Cached by password hash, then id: it is checked on every request.
 */
export function createAuthHasher (secret: string | Buffer, getPasswordHash: (user: User) => unknown, getUserId: (user: User) => unknown): (user: User, passwordHash?: string) => string {
  const cache = new Map<unknown, Map<unknown, string>>()
  let size = 0
  return function authHash (user, passwordHash = getPasswordHash(user) as string) {
    const id = getUserId(user)
    let byId = cache.get(passwordHash)
    let digest = byId?.get(id)
    if (digest === undefined) {
      digest = createHmac('sha256', secret).update('fastify-auth-helpers:auth-hash:').update(authHashInput(id, passwordHash)).digest('base64url')
      if (size >= AUTH_HASH_CACHE_SIZE) {
        cache.clear()
        size = 0
        byId = undefined
      }
      if (byId === undefined) cache.set(passwordHash, byId = new Map())
      byId.set(id, digest)
      size++
    }
    return digest
  }
}

/** Constant-time for equal lengths, without the two Buffers crypto.timingSafeEqual would cost on every request. */
export function sameAuthHash (stored: unknown, expected: string): boolean {
  if (typeof stored !== 'string' || stored.length !== expected.length) return false
  let difference = 0
  for (let i = 0; i < expected.length; i++) difference |= stored.charCodeAt(i) ^ expected.charCodeAt(i)
  return difference === 0
}
