const LONE_SURROGATE = /\p{Cs}/u

/**
 * What is wrong with a username or password, or undefined. argon2 takes arrays and buffers as passwords; UTF-8 turns
 * every lone surrogate into U+FFFD, so "\uD800" and "\uFFFD" would be one password; a NUL names nobody (PostgreSQL
 * refuses it in text, C strings end at it), though in a password it is just a character.
 */
export function textProblem (value: unknown, maxBytes: number, kind: 'username' | 'password'): 'not-text' | 'empty' | 'too-long' | 'malformed' | undefined {
  if (typeof value !== 'string') return 'not-text'
  if (value.length === 0) return 'empty'
  if (Buffer.byteLength(value, 'utf8') > maxBytes) return 'too-long'
  if (LONE_SURROGATE.test(value) || (kind === 'username' && value.includes('\u0000'))) return 'malformed'
  return undefined
}

export function isUsername (value: unknown, maxBytes: number): value is string {
  return textProblem(value, maxBytes, 'username') === undefined
}

export function isPassword (value: unknown, maxBytes: number): value is string {
  return textProblem(value, maxBytes, 'password') === undefined
}
