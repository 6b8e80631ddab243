import { createHmac } from 'node:crypto'
import type { UserId } from '../../types/index'
import { isValidUserId } from '../constants'
import { InvalidArgumentError, InvalidTokenError } from '../errors'
import { sameAuthHash } from '../login/auth-hash'
import { askUsers } from '../login/users'
import type { User } from '../options'
import type { Registration } from '../registration'

/**
 * Signed, stateless tokens for the links an app mails (Django's PasswordResetTokenGenerator): `<id>.<expiry>.<mac>`, an
 * HMAC over the purpose, the typed id, the expiry and the user's auth hash, so a password change kills every token
 * made before it (docs/architecture.md, "User tokens").
 */

const DEFAULT_MAX_AGE = 60 * 60 * 1000
/** The latest expiry base 36 can write in 11 characters is far past any `Date`; anything longer is not ours. */
const MAX_TOKEN_LENGTH = 800
const MAX_PURPOSE_LENGTH = 100
const TOKEN = /^([A-Za-z0-9_-]{2,700})\.([1-9a-z][0-9a-z]{0,10})\.([A-Za-z0-9_-]{43})$/
const MAC_LABEL = 'fastify-auth-helpers:user-token:v1'

export interface UserTokens {
  create (user: User, options: { purpose: unknown, maxAge?: unknown }): string
  verify (token: unknown, options: { purpose: unknown }): Promise<User>
  /** The id a token names, or null when it is not of the token's shape (before any check of its MAC). */
  idOf (token: unknown): UserId | null
}

/** The id as the auth hash writes it, typed, so that the string "1" and the number 1 never share a token. */
function idText (id: UserId): string {
  return typeof id === 'string' ? `s${id}` : `n${id}`
}

function parseId (encoded: string): UserId | null {
  const bytes = Buffer.from(encoded, 'base64url')
  // One spelling per id: a base64url string with other bits in its last character decodes to the same bytes.
  if (bytes.toString('base64url') !== encoded) return null
  const text = bytes.toString('utf8')
  const value = text.slice(1)
  const id = text[0] === 'n' && String(Number(value)) === value ? Number(value) : text[0] === 's' ? value : null
  // A string that is not UTF-8 reads back with U+FFFD, which no id of ours has: Buffer.from(idText) would differ.
  return isValidUserId(id) && Buffer.from(idText(id)).equals(bytes) ? id : null
}

function checkPurpose (purpose: unknown, call: string): string {
  if (typeof purpose !== 'string' || purpose.length === 0 || purpose.length > MAX_PURPOSE_LENGTH) {
    throw new InvalidArgumentError(`${call}() takes { purpose }: a non-empty string of at most ${MAX_PURPOSE_LENGTH} characters`)
  }
  return purpose
}

export function createUserTokens (registration: Registration, keys: Buffer[], now: () => number = Date.now): UserTokens {
  const { options } = registration
  // Stands in for the auth hash of a user who is not there, so that the MAC is computed and compared all the same.
  const absentUserHash = createHmac('sha256', keys[0] as Buffer).update('fastify-auth-helpers:no-user').digest('base64url')

  function mac (key: Buffer, purpose: string, id: string, expires: string, authHash: string): string {
    return createHmac('sha256', key)
      .update(`${MAC_LABEL}:${purpose.length}:${purpose}:${id.length}:${id}:${expires}:${authHash}`)
      .digest('base64url')
  }

  function parse (token: unknown): { id: UserId, expires: string, mac: string } | null {
    if (typeof token !== 'string' || token.length > MAX_TOKEN_LENGTH) return null
    const match = TOKEN.exec(token)
    const id = match === null ? null : parseId(match[1] as string)
    return id === null ? null : { id, expires: (match as RegExpExecArray)[2] as string, mac: (match as RegExpExecArray)[3] as string }
  }

  return {
    create (user, { purpose, maxAge = DEFAULT_MAX_AGE }) {
      const checkedPurpose = checkPurpose(purpose, 'createUserToken')
      if (user === null || typeof user !== 'object') throw new InvalidArgumentError('createUserToken() takes a user object')
      const id = options.getUserId(user)
      if (!isValidUserId(id)) throw new InvalidArgumentError('createUserToken() was given a user without a valid id')
      if (!(Number.isSafeInteger(maxAge) && (maxAge as number) > 0)) {
        throw new InvalidArgumentError('createUserToken() takes `maxAge` as a positive whole number of milliseconds')
      }
      const expires = (now() + (maxAge as number)).toString(36)
      const text = idText(id)
      return `${Buffer.from(text).toString('base64url')}.${expires}.${mac(keys[0] as Buffer, checkedPurpose, text, expires, registration.authHash(user))}`
    },

    /**
     * Every token of the right shape costs the same steps whatever is wrong with it: one user lookup, one HMAC per
     * key, one constant-time comparison each, then the verdict from all of them at once. A token of the wrong shape
     * is refused on its shape alone, which tells its sender only what they sent.
     */
    async verify (token, { purpose }) {
      const checkedPurpose = checkPurpose(purpose, 'verifyUserToken')
      const parsed = parse(token)
      if (parsed === null) throw new InvalidTokenError()
      const user = await askUsers('findById', () => options.users.findById(parsed.id))
      const found = user != null
      const authHash = found ? registration.authHash(user) : absentUserHash
      const text = idText(parsed.id)
      let signed = false
      for (const key of keys) signed = sameAuthHash(parsed.mac, mac(key, checkedPurpose, text, parsed.expires, authHash)) || signed
      // The id compared too: a store that answers for "007" with user 7 has no business being handed that token.
      const sameUser = found && options.getUserId(user) === parsed.id
      const active = found && options.isActive(user)
      const fresh = parseInt(parsed.expires, 36) > now()
      if (!(signed && sameUser && active && fresh)) throw new InvalidTokenError()
      return user
    },

    idOf (token) {
      return parse(token)?.id ?? null
    }
  }
}
