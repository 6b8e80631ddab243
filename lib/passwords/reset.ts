import { InvalidArgumentError } from '../errors'
import { askUsers } from '../login/users'
import type { User } from '../options'
import { setPassword } from './change'
import { isUsername } from './input'
import type { Passwords } from './passwords'

export const PASSWORD_RESET = 'password-reset'

export interface ResetRequestOptions {
  send: (message: { user: User, token: string, username: string }) => unknown
  maxAge?: unknown
}

/** `verifyUserToken` for a reset, then `setPassword`; a second use of one token on this instance waits, then fails. */
export async function resetPassword (passwords: Passwords, token: unknown, newPassword: unknown): Promise<User> {
  const { tokens, resetting } = passwords
  const id = tokens.idOf(token)
  const before = resetting.get(id)
  const reset = (async () => {
    if (before !== undefined) await before.catch(() => {})
    const user = await tokens.verify(token, { purpose: PASSWORD_RESET })
    await setPassword(passwords, user, newPassword)
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
 * Looks the user up and mails the link after the response, so that the answer is the same in body, status and time
 * whether the username has an account or not. Nothing to await: errors are logged.
 */
export function requestPasswordReset (passwords: Passwords, username: unknown, options: ResetRequestOptions | undefined): void {
  const { send, maxAge } = options ?? ({} as Partial<ResetRequestOptions>)
  if (typeof send !== 'function') throw new InvalidArgumentError('requestPasswordReset() takes { send }, a function')
  // Checked now, where the app makes the mistake, not in the lookup after the response.
  if (maxAge !== undefined && !(Number.isSafeInteger(maxAge) && (maxAge as number) > 0)) {
    throw new InvalidArgumentError('requestPasswordReset() takes `maxAge` as a positive whole number of milliseconds')
  }
  const { registration: { options: { users, isActive, maxUsernameLength } }, tokens, log, pendingRequests } = passwords
  if (!isUsername(username, maxUsernameLength)) return
  const pending = new Promise<void>(resolve => setImmediate(resolve)).then(async () => {
    const user = await askUsers('findByUsername', () => users.findByUsername(username))
    if (user == null || !isActive(user)) return
    await send({ user, token: tokens.create(user, { purpose: PASSWORD_RESET, maxAge }), username })
  }).catch(err => {
    log.error({ err }, 'fastify-auth-helpers: a password reset request failed')
  })
  pendingRequests.add(pending)
  pending.finally(() => pendingRequests.delete(pending))
}

/** Resolves once every reset request made so far has been looked up and sent, or has failed. */
export async function settled (passwords: Passwords): Promise<void> {
  while (passwords.pendingRequests.size > 0) await Promise.all(passwords.pendingRequests)
}
