import type { FastifyBaseLogger, FastifyRequest } from 'fastify'
import { AuthenticationError, InvalidOptionError, InvalidPasswordError, UnauthorizedError, UserStoreError } from './errors'
import { askUsers, login, recordHashForLogin, stateOf, type AuthState } from './auth'
import { isWellFormed } from './password'
import { isValidUserId } from './backends/backend'
import { createUserTokens, userTokenKeys, type UserTokens } from './user-tokens'
import type { User } from './options'
import { currentLogin, type CurrentLogin } from './logins'

/**
 * Changing, setting and resetting passwords. None of it stores a login of its own: every login carries the auth hash
 * of the password it was made with (lib/auth.ts), so storing a new hash ends every login made before it, on every
 * backend and instance, from its next request. "Keep this request's login" is a login() of the same user with the new
 * hash.
 */

export const PASSWORD_RESET = 'password-reset'

/** The app's own rule for new passwords: a reason to refuse one (shown to the user), or nothing to accept it. */
export type PasswordPolicy = (password: string, context: { user: User | null }) => unknown

export interface PasswordOptions {
  passwordPolicy?: unknown
  userTokens?: unknown
}

export interface ResetRequestOptions {
  send: (message: { user: User, token: string, username: string }) => unknown
  maxAge?: unknown
}

export interface Passwords {
  readonly tokens: UserTokens
  checkNewPassword (password: unknown, user: User | null): Promise<void>
  changePassword (request: FastifyRequest, currentPassword: unknown, newPassword: unknown): Promise<string | undefined>
  setPassword (user: User, newPassword: unknown): Promise<void>
  resetPassword (token: unknown, newPassword: unknown): Promise<User>
  requestPasswordReset (username: unknown, options: ResetRequestOptions): void
  /** Resolves once every reset request made so far has been looked up and sent (or has failed). */
  settled (): Promise<void>
}

const passwordsByState = new WeakMap<AuthState, Passwords>()

export function passwordsOf (request: FastifyRequest): Passwords {
  return passwordsByState.get(stateOf(request)) as Passwords
}

function checkUser (user: unknown, call: string, state: AuthState): User {
  if (user === null || typeof user !== 'object' || !isValidUserId(state.options.getUserId(user))) {
    throw new InvalidOptionError(`${call}() takes a user object with a valid id`)
  }
  return user
}

export function createPasswords (state: AuthState, raw: PasswordOptions, log: FastifyBaseLogger): Passwords {
  const { options, hasher } = state
  const { passwordPolicy } = raw
  if (passwordPolicy !== undefined && typeof passwordPolicy !== 'function') {
    throw new InvalidOptionError('`passwordPolicy` must be a function')
  }
  const tokens = createUserTokens(state, userTokenKeys(raw.userTokens, options.authHashSecret as string | Buffer))
  /** Resets in progress on this instance, by user id: a second use of one token waits for the first, and then fails. */
  const resetting = new Map<unknown, Promise<unknown>>()
  const pendingRequests = new Set<Promise<void>>()

  function storeHash (user: User): (hash: string) => Promise<void> {
    const update = options.users.updatePasswordHash
    if (update === undefined) {
      throw new InvalidOptionError('changing a password needs `users.updatePasswordHash(user, hash)` to store the new hash')
    }
    return async (hash) => {
      try {
        await update(user, hash)
      } catch (err) {
        throw new UserStoreError('updatePasswordHash', { cause: err })
      }
    }
  }

  async function checkNewPassword (password: unknown, user: User | null): Promise<void> {
    // The rules every password already follows (authenticate refuses the rest unhashed), then the app's.
    if (typeof password !== 'string' || password.length === 0) throw new InvalidPasswordError('The new password must not be empty')
    if (Buffer.byteLength(password, 'utf8') > options.maxPasswordLength) {
      throw new InvalidPasswordError(`The new password must be at most ${options.maxPasswordLength} bytes long`)
    }
    if (!isWellFormed(password)) throw new InvalidPasswordError('The new password contains an invalid character')
    if (passwordPolicy === undefined) return
    const reason: unknown = await (passwordPolicy as PasswordPolicy)(password, { user })
    if (reason === undefined || reason === null || reason === true) return
    throw new InvalidPasswordError(typeof reason === 'string' && reason.length > 0 ? reason : 'The new password is not allowed')
  }

  async function setPassword (user: User, newPassword: unknown): Promise<void> {
    checkUser(user, 'setPassword', state)
    const store = storeHash(user)
    await checkNewPassword(newPassword, user)
    await store(await hasher.hash(newPassword as string))
    // The new auth hash already ends every login at its next request; ending them in the store too takes them off
    // listLogins at once, and ends refresh families before their next refresh.
    await endKeptLogins(user)
  }

  async function endKeptLogins (user: User, keep?: CurrentLogin): Promise<void> {
    const logins = state.logins
    if (logins === undefined || !logins.full) return
    const id = options.getUserId(user)
    if (isValidUserId(id)) await logins.endAll(id, keep)
  }

  async function changePassword (request: FastifyRequest, currentPassword: unknown, newPassword: unknown): Promise<string | undefined> {
    const user = request.user as User | null
    // The backend whose login this request carries: the one that named the user, or made its login.
    const backend = state.resolutionOrder.find(candidate => candidate.storedUserId(request) != null)
    if (user == null || backend === undefined) throw new UnauthorizedError()
    const store = storeHash(user)
    await checkNewPassword(newPassword, user)
    // The current password is checked as authenticate() checks it: the same refusal for every failure, after exactly
    // one argon2 verify for any string of sane size.
    if (typeof currentPassword !== 'string' || currentPassword.length === 0 ||
        Buffer.byteLength(currentPassword, 'utf8') > options.maxPasswordLength || !isWellFormed(currentPassword)) {
      throw new AuthenticationError('Invalid password')
    }
    if (!await hasher.verify(options.getPasswordHash(user), currentPassword)) throw new AuthenticationError('Invalid password')
    const hash = await hasher.hash(newPassword as string)
    await store(hash)
    recordHashForLogin(request, user, hash)
    const token = await login(request, { user, backend: backend.name })
    await endKeptLogins(user, currentLogin(request))
    return token
  }

  async function resetPassword (token: unknown, newPassword: unknown): Promise<User> {
    const id = tokens.idOf(token)
    const before = resetting.get(id)
    const reset = (async () => {
      // A second use of the token on this instance checks it after the first has stored its hash, and fails.
      if (before !== undefined) await before.catch(() => {})
      const user = await tokens.verify(token, { purpose: PASSWORD_RESET })
      await setPassword(user, newPassword)
      return user
    })()
    if (id !== null) {
      resetting.set(id, reset)
      const forget = (): void => { if (resetting.get(id) === reset) resetting.delete(id) }
      reset.then(forget, forget)
    }
    return await reset
  }

  /**
   * Looks the user up and mails the link off the response path, so that the answer is the same, in body, status and
   * time, whether the address has an account or not. Nothing to await: errors are logged.
   */
  function requestPasswordReset (username: unknown, { send, maxAge }: ResetRequestOptions): void {
    if (typeof send !== 'function') throw new InvalidOptionError('requestPasswordReset() takes { send }, a function')
    // Checked here, where the app makes the mistake, rather than in the lookup that runs after the response.
    if (maxAge !== undefined && !(Number.isSafeInteger(maxAge) && (maxAge as number) > 0)) {
      throw new InvalidOptionError('requestPasswordReset() takes `maxAge` as a positive whole number of milliseconds')
    }
    if (typeof username !== 'string' || username.length === 0 || Buffer.byteLength(username, 'utf8') > options.maxUsernameLength ||
        !isWellFormed(username)) return
    const pending = new Promise<void>(resolve => setImmediate(resolve)).then(async () => {
      const user = await askUsers('findByUsername', () => options.users.findByUsername(username))
      if (user == null || !options.isActive(user)) return
      await send({ user, token: tokens.create(user, { purpose: PASSWORD_RESET, maxAge }), username })
    }).catch(err => {
      log.error({ err }, 'fastify-auth-helpers: a password reset request failed')
    })
    pendingRequests.add(pending)
    pending.finally(() => pendingRequests.delete(pending))
  }

  const passwords: Passwords = {
    tokens,
    checkNewPassword,
    changePassword,
    setPassword,
    resetPassword,
    requestPasswordReset,
    async settled () {
      while (pendingRequests.size > 0) await Promise.all(pendingRequests)
    }
  }
  passwordsByState.set(state, passwords)
  return passwords
}
