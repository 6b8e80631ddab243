import t from 'tap'
import { createHmac } from 'node:crypto'
import { createAuthHasher } from '../lib/auth'

t.test('the auth hash is an HMAC of the user id and password hash, stable across its cache filling up', async t => {
  const secret = 's'.repeat(32)
  const hasher = createAuthHasher(secret, (user) => (user as { password?: string }).password, (user) => (user as { id?: unknown }).id)
  const expected = (input: string) =>
    createHmac('sha256', secret).update('fastify-auth-helpers:auth-hash:').update(input).digest('base64url')
  const first = hasher({ id: 7, password: 'hash-0' })
  t.equal(first, expected('2:n7:hash-0'))
  for (let i = 1; i <= 10_001; i++) hasher({ id: 7, password: `hash-${i}` })
  t.equal(hasher({ id: 7, password: 'hash-0' }), first, 'the same after the cache was cleared')
  t.not(hasher({ id: 7, password: 'hash-1' }), first, 'a new password, a new auth hash')
  t.equal(hasher({ id: 'ab' }), expected('3:sab:'), 'no password hashes as the empty string')
  t.equal(hasher({}), expected('1:-:'), 'nor does a user without a usable id')
  t.not(hasher({ id: 1 }), hasher({ id: 2 }), 'two passwordless users differ by their ids')
  t.not(hasher({ id: 1 }), hasher({ id: '1' }), 'the id\'s type counts')
  t.not(hasher({ id: 'a:', password: 'b' }), hasher({ id: 'a', password: ':b' }), 'the id cannot run into the hash')
})
