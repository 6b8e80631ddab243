// Issue 11, item 10: an ECDSA signature (r, s) verifies as (r, n - s) too, so anyone holding an ES256 token could
// make a second string that authenticated as the same login, where the README promises one spelling per token. Every
// ES* token is now accepted only with s <= n / 2, and login issues only that spelling. Each attack builds the twin
// itself and first proves with node:crypto that the twin is a valid signature, so the refusal is not an accident.
import t from 'tap'
import { createPublicKey, verify as cryptoVerify } from 'node:crypto'
import { createMemoryLoginStore } from '../../lib/login-store/memory'
import { SECRET } from '../helper'
import { bearer, buildJwt, claimsLike, decodeSegment, ecKeys, edKeys, forge, tokenFor, whoami, type PemKeyPair } from '../jwt/helper'

const CURVES = {
  ES256: { curve: 'P-256', hash: 'sha256', size: 32, order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n },
  ES384: { curve: 'P-384', hash: 'sha384', size: 48, order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n },
  ES512: { curve: 'P-521', hash: 'sha512', size: 66, order: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n }
} as const
type Alg = keyof typeof CURVES

function parts (token: string, alg: Alg): { input: string, r: Buffer, s: bigint } {
  const dot = token.lastIndexOf('.')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  const { size } = CURVES[alg]
  return { input: token.slice(0, dot), r: signature.subarray(0, size), s: BigInt(`0x${signature.subarray(size).toString('hex')}`) }
}

/** The same token with (r, n - s): the other spelling of its signature. */
function twin (token: string, alg: Alg): string {
  const { input, r, s } = parts(token, alg)
  const { order, size } = CURVES[alg]
  const other = Buffer.from((order - s).toString(16).padStart(2 * size, '0'), 'hex')
  return `${input}.${Buffer.concat([r, other]).toString('base64url')}`
}

function isHigh (token: string, alg: Alg): boolean {
  return parts(token, alg).s > CURVES[alg].order / 2n
}

/** Whether node:crypto, which knows nothing of this rule, takes the signature: the twin is a genuine signature. */
function signatureVerifies (token: string, alg: Alg, keys: PemKeyPair): boolean {
  const { input } = parts(token, alg)
  const signature = Buffer.from(token.slice(token.lastIndexOf('.') + 1), 'base64url')
  return cryptoVerify(CURVES[alg].hash, Buffer.from(input), { key: createPublicKey(keys.public), dsaEncoding: 'ieee-p1363' }, signature)
}

for (const alg of Object.keys(CURVES) as Alg[]) {
  t.test(`${alg}: one spelling per token`, async t => {
    const keys = ecKeys(CURVES[alg].curve)
    const { app } = await buildJwt(t, { algorithm: alg, secret: keys }, {
      plugin: { authHashSecret: SECRET },
      // login({ userId }): no argon2, so many tokens are cheap.
      after: (app) => {
        app.post('/login-id-token', async (request) => ({ token: await request.login({ userId: 1 }) }))
      }
    })
    const issued: string[] = []
    for (let i = 0; i < 40; i++) issued.push((await app.inject({ method: 'POST', url: '/login-id-token' })).json().token)
    t.ok(issued.every(token => !isHigh(token, alg)), 'every token login issues has a low s (40 of them: 2^-40 by chance)')

    const token = issued[0] as string
    const other = twin(token, alg)
    t.not(other, token)
    t.ok(signatureVerifies(other, alg, keys), 'the twin (r, n - s) is a valid ECDSA signature of the same token')
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the issued token authenticates')
    t.same(await whoami(app, bearer(other)), { status: 200, id: null }, 'its high-s twin does not')

    // A high-s token that the backend did not issue but that is signed with its key (what a signer without the rule
    // makes half the time): refused, while its low-s twin, with the same claims, is taken.
    const header = decodeSegment(token, 0)
    let high = forge(header, claimsLike(token), alg, keys.private)
    while (!isHigh(high, alg)) high = forge(header, claimsLike(token), alg, keys.private)
    t.ok(signatureVerifies(high, alg, keys))
    t.same(await whoami(app, bearer(high)), { status: 200, id: null }, 'a high-s signature made with the key is refused')
    t.same(await whoami(app, bearer(twin(high, alg))), { status: 200, id: 1 }, 'its low-s twin is taken: the spelling is refused, not the claims')

    // Other lengths of the same (r, s): a DER encoding, a padded or a short one never verify as a JOSE signature.
    const { input, r, s } = parts(token, alg)
    const sBytes = Buffer.from(s.toString(16).padStart(2 * CURVES[alg].size, '0'), 'hex')
    for (const [name, signature] of [
      ['padded with a zero byte', Buffer.concat([Buffer.from([0]), r, sBytes])],
      ['without its last byte', Buffer.concat([r, sBytes]).subarray(0, -1)]
    ] as const) {
      t.same(await whoami(app, bearer(`${input}.${signature.toString('base64url')}`)), { status: 200, id: null }, name)
    }
  })
}

for (const alg of Object.keys(CURVES) as Alg[]) {
  t.test(`${alg}: every refreshed access token has the low s and authenticates, as a login's does`, async t => {
    const keys = ecKeys(CURVES[alg].curve)
    const { app } = await buildJwt(t, { algorithm: alg, secret: keys, refresh: true }, {
      plugin: { authHashSecret: SECRET, loginStore: createMemoryLoginStore() },
      after: (app) => {
        app.post('/login-id-pair', async (request) => {
          await request.login({ userId: 1 })
          return request.issuedTokens()
        })
        app.post('/refresh', async (request) => await request.refresh((request.body as { refreshToken: string }).refreshToken))
      }
    })
    let { refreshToken } = (await app.inject({ method: 'POST', url: '/login-id-pair' })).json()
    const refused: string[] = []
    for (let i = 0; i < 40; i++) {
      const pair = (await app.inject({ method: 'POST', url: '/refresh', payload: { refreshToken } })).json()
      refreshToken = pair.refreshToken
      if (isHigh(pair.accessToken, alg) || (await whoami(app, bearer(pair.accessToken))).id !== 1) refused.push(pair.accessToken)
    }
    t.same(refused, [], '40 refreshed tokens, each low-s and each taken (a signer without the rule gives half high-s)')
  })
}

t.test('a previous ES256 key is held to the same rule', async t => {
  const current = ecKeys('P-256')
  const previous = ecKeys('P-256')
  const { app } = await buildJwt(t, {
    algorithm: 'ES256',
    kid: 'new',
    secret: current,
    previousKeys: [{ kid: 'old', algorithm: 'ES256', secret: { public: previous.public } }]
  }, { plugin: { authHashSecret: SECRET } })
  const token = await tokenFor(app)
  const header = { alg: 'ES256', typ: 'JWT', kid: 'old' }
  let high = forge(header, claimsLike(token), 'ES256', previous.private)
  while (!isHigh(high, 'ES256')) high = forge(header, claimsLike(token), 'ES256', previous.private)
  t.same(await whoami(app, bearer(twin(high, 'ES256'))), { status: 200, id: 1 }, 'the old key\'s low-s token works')
  t.same(await whoami(app, bearer(high)), { status: 200, id: null }, 'its high-s twin does not')
})

// A sibling checked rather than assumed: Ed25519 signatures (R, S) would verify as (R, S + L) where a verifier does
// not insist on S < L (RFC 8032 section 5.1.7 requires it). Node's (OpenSSL's) does; this keeps it so.
t.test('EdDSA: the (R, S + L) twin of a token is refused', async t => {
  const keys = edKeys()
  const { app } = await buildJwt(t, { algorithm: 'EdDSA', secret: keys }, { plugin: { authHashSecret: SECRET } })
  const token = await tokenFor(app)
  const dot = token.lastIndexOf('.')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  const L = 2n ** 252n + 27742317777372353535851937790883648493n
  const s = BigInt(`0x${Buffer.from(signature.subarray(32)).reverse().toString('hex')}`)
  const twinS = Buffer.from((s + L).toString(16).padStart(64, '0'), 'hex').reverse()
  const other = `${token.slice(0, dot)}.${Buffer.concat([signature.subarray(0, 32), twinS]).toString('base64url')}`
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 })
  t.same(await whoami(app, bearer(other)), { status: 200, id: null })
})
