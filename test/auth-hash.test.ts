import t from 'tap'
import { createHmac } from 'node:crypto'
import { createAuthHasher } from '../lib/auth'

t.test('the auth hash is an HMAC of the password hash, stable across its cache filling up', async t => {
  const secret = 's'.repeat(32)
  const hasher = createAuthHasher(secret, (user) => (user as { password: string }).password)
  const expected = (password: string) =>
    createHmac('sha256', secret).update('fastify-auth-helpers:auth-hash:').update(password).digest('base64url')
  const first = hasher({ password: 'hash-0' })
  t.equal(first, expected('hash-0'))
  for (let i = 1; i <= 10_001; i++) hasher({ password: `hash-${i}` })
  t.equal(hasher({ password: 'hash-0' }), first, 'the same after the cache was cleared')
  t.not(hasher({ password: 'hash-1' }), first)
  t.equal(hasher({}), expected(''), 'no password hashes as the empty string')
})
