import { InvalidPasswordError } from '../errors'
import type { User } from '../options'
import { textProblem } from './input'
import type { Passwords } from './passwords'

/** The rules every password follows (authenticate refuses the rest unhashed), then the app's `passwordPolicy`. */
export async function checkNewPassword (passwords: Passwords, password: unknown, user: User | null): Promise<void> {
  const { maxPasswordLength, passwordPolicy } = passwords.registration.options
  switch (textProblem(password, maxPasswordLength, 'password')) {
    case 'not-text':
    case 'empty': throw new InvalidPasswordError('The new password must not be empty')
    case 'too-long': throw new InvalidPasswordError(`The new password must be at most ${maxPasswordLength} bytes long`)
    case 'malformed': throw new InvalidPasswordError('The new password contains an invalid character')
  }
  if (passwordPolicy === undefined) return
  const reason: unknown = await passwordPolicy(password as string, { user })
  if (reason === undefined || reason === null || reason === true) return
  throw new InvalidPasswordError(typeof reason === 'string' && reason.length > 0 ? reason : 'The new password is not allowed')
}
