import t from 'tap'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { SECRET } from '../helper'
import { bearer, buildJwt, edKeys, tokenFor, whoami } from './helper'

const RUNS = 400
const SEGMENTS = ['header', 'payload', 'signature'] as const

/** Any mutation of a genuine token: every one must leave the request anonymous, and none may answer a 500. */
async function assertNoneAuthenticates (t: { same: (...a: any[]) => unknown, pass: (message: string) => unknown }, app: FastifyInstance, token: string): Promise<void> {
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the genuine token works (control)')
  const parts = token.split('.') as [string, string, string]
  const anonymous = async (mutated: string): Promise<boolean> => {
    if (mutated === token) return true
    const seen = await whoami(app, { authorization: `Bearer ${mutated}` })
    return seen.status === 200 && seen.id === null
  }

  // One byte of the decoded header, payload or signature replaced by any other byte, re-encoded as valid base64url.
  const byteMutation = fc.constantFrom(0, 1, 2).chain(segment => {
    const bytes = Buffer.from(parts[segment] as string, 'base64url')
    return fc.record({
      segment: fc.constant(segment),
      index: fc.nat({ max: bytes.length - 1 }),
      delta: fc.integer({ min: 1, max: 255 })
    })
  })
  await fc.assert(fc.asyncProperty(byteMutation, async ({ segment, index, delta }) => {
    const bytes = Buffer.from(parts[segment] as string, 'base64url')
    bytes[index] = ((bytes[index] as number) + delta) % 256
    const mutated = parts.map((part, i) => i === segment ? bytes.toString('base64url') : part).join('.')
    return anonymous(mutated)
  }), { numRuns: RUNS })
  t.pass(`${RUNS} byte mutations of ${SEGMENTS.join(', ')}: none authenticates, none answers 500`)

  // One character of the token replaced by any other printable character (base64url's own and the rest).
  const characterMutation = fc.record({
    index: fc.nat({ max: token.length - 1 }),
    char: fc.integer({ min: 0x21, max: 0x7e }).map(code => String.fromCharCode(code))
  })
  await fc.assert(fc.asyncProperty(characterMutation, async ({ index, char }) =>
    anonymous(token.slice(0, index) + char + token.slice(index + 1))), { numRuns: RUNS })
  t.pass(`${RUNS} character replacements: none authenticates, none answers 500`)

  // Characters deleted, inserted, or the token cut short.
  const edit = fc.oneof(
    fc.record({ kind: fc.constant('delete' as const), index: fc.nat({ max: token.length - 1 }), text: fc.constant('') }),
    fc.record({ kind: fc.constant('insert' as const), index: fc.nat({ max: token.length }), text: fc.string({ minLength: 1, maxLength: 4, unit: fc.constantFrom(...'ABCxyz019-_.=+/'.split('')) }) }),
    fc.record({ kind: fc.constant('cut' as const), index: fc.nat({ max: token.length - 1 }), text: fc.constant('') })
  )
  await fc.assert(fc.asyncProperty(edit, async ({ kind, index, text }) => {
    if (kind === 'cut') return anonymous(token.slice(0, index))
    return anonymous(token.slice(0, index) + text + token.slice(index + (kind === 'delete' ? 1 : 0)))
  }), { numRuns: RUNS })
  t.pass(`${RUNS} deletions, insertions and truncations: none authenticates, none answers 500`)

  // The last character of a segment carries spare bits that decode to nothing; every other spelling of it, exhaustively.
  const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_'
  let spellings = 0
  for (const [segment, part] of parts.entries()) {
    for (const char of alphabet) {
      const respelled = parts.map((p, i) => i === segment ? part.slice(0, -1) + char : p).join('.')
      if (respelled !== token && !await anonymous(respelled)) t.fail(`${SEGMENTS[segment]} ending in ${char} authenticates`)
      spellings++
    }
  }
  t.pass(`${spellings} spellings of each segment's last character: none authenticates`)
}

t.test('HS256: no mutation of a genuine token authenticates', async t => {
  const { app } = await buildJwt(t)
  await assertNoneAuthenticates(t, app, await tokenFor(app))
})

t.test('EdDSA: no mutation of a genuine token authenticates', async t => {
  const { app } = await buildJwt(t, { algorithm: 'EdDSA', secret: edKeys() }, { plugin: { authHashSecret: SECRET } })
  await assertNoneAuthenticates(t, app, await tokenFor(app))
})
