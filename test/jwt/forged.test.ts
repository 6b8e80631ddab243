import t from 'tap'
import { createPublicKey } from 'node:crypto'
import type { FastifyInstance } from 'fastify'
import { SECRET } from '../helper'
import {
  JWT_SECRET, bearer, buildJwt, claimsLike, decodeSegment, encode, forge, now, rsaKeys, signature, tokenFor, whoami
} from './helper'

const OTHER_SECRET = 'another-secret-of-the-same-length-as-the-real'
const rsa = rsaKeys()
const attackerRsa = rsaKeys()
const HS = { alg: 'HS256', typ: 'JWT' }

type Case = [name: string, token: string]

/**
 * Cookie values cannot hold every character a forged token may have; those go by header only. Nor `%`: cookie values
 * are URL-decoded, so a percent-encoded token in a cookie is the token itself.
 */
function cookieSafe (token: string): boolean {
  return /^[\x21-\x7e]*$/.test(token) && !/[;,"\\%]/.test(token)
}

/**
 * Every case must leave the request anonymous (200 with no user on /whoami, 401 with an invalid_token challenge on
 * /me), never a 500, through the Authorization header and through the cookie.
 */
async function assertAnonymous (t: { same: (...a: any[]) => unknown, equal: (...a: any[]) => unknown }, app: FastifyInstance, cases: Case[]): Promise<void> {
  for (const [name, token] of cases) {
    const transports: Array<[string, Record<string, string>]> = [['header', { authorization: `Bearer ${token}` }]]
    if (token.length > 0 && cookieSafe(token)) transports.push(['cookie', { cookie: `token=${token}` }])
    for (const [transport, headers] of transports) {
      t.same(await whoami(app, headers), { status: 200, id: null }, `${name} (${transport})`)
      const me = await app.inject({ url: '/me', headers })
      t.equal(me.statusCode, 401, `${name} (${transport}): 401`)
      t.equal(me.headers['www-authenticate'], 'Bearer error="invalid_token"', `${name} (${transport}): challenge`)
    }
  }
}

t.test('HS256: forged, tampered, swapped-algorithm, expired and malformed tokens are all anonymous', async t => {
  const { app } = await buildJwt(t, { cookie: { name: 'token' } })
  const token = await tokenFor(app)
  const alice = await tokenFor(app, 'alice', 'pw2')
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the genuine token works (control)')
  t.same(await whoami(app, { cookie: `token=${token}` }), { status: 200, id: 1 }, 'in the cookie too (control)')
  const [header, payload, sig] = token.split('.') as [string, string, string]
  const claims = claimsLike(token)
  const aliceClaims = decodeSegment(alice, 1)
  const signed = (overrides: Record<string, unknown>, head: Record<string, unknown> = HS) =>
    forge(head, { ...claims, ...overrides }, 'HS256', JWT_SECRET)
  const spare = sig.slice(0, -1) + String.fromCharCode(sig.charCodeAt(sig.length - 1) ^ 1)

  await assertAnonymous(t, app, [
    // The signature
    ['signed with another secret', forge(HS, claims, 'HS256', OTHER_SECRET)],
    ['signed with the session secret', forge(HS, claims, 'HS256', SECRET)],
    ['signed with an empty key', forge(HS, claims, 'HS256', '')],
    ['another token\'s signature', `${header}.${payload}.${alice.split('.')[2]}`],
    ['alice\'s claims under bob\'s signature', `${header}.${encode(aliceClaims)}.${sig}`],
    ['bob\'s claims with user id 2 under bob\'s signature', `${header}.${encode({ ...decodeSegment(token, 1), _auth_user_id: 2 })}.${sig}`],
    ['no signature', `${header}.${payload}.`],
    ['no signature and no dot', `${header}.${payload}`],
    ['signature spelled with different spare bits', `${header}.${payload}.${spare}`],
    ['signature with a character appended', `${header}.${payload}.${sig}A`],
    ['signature doubled', `${header}.${payload}.${sig}${sig}`],
    ['signature in standard base64', `${header}.${payload}.${Buffer.from(sig, 'base64url').toString('base64')}`],
    // The algorithm
    ...['none', 'None', 'NONE', 'nOnE'].flatMap(alg => [
      [`alg ${alg}, unsigned`, forge({ alg, typ: 'JWT' }, claims, 'none')],
      [`alg ${alg}, with the genuine signature kept`, `${encode({ alg, typ: 'JWT' })}.${payload}.${sig}`]
    ] as Case[]),
    ['alg HS512 with the right secret', forge({ alg: 'HS512', typ: 'JWT' }, claims, 'HS512', JWT_SECRET)],
    ['alg HS384 with the right secret', forge({ alg: 'HS384', typ: 'JWT' }, claims, 'HS384', JWT_SECRET)],
    ['alg RS256 naming an HMAC signature', `${encode({ alg: 'RS256', typ: 'JWT' })}.${payload}.${signature('HS256', JWT_SECRET, `${encode({ alg: 'RS256', typ: 'JWT' })}.${payload}`)}`],
    ['alg RS256 signed by the attacker, key embedded as jwk', forge({ alg: 'RS256', typ: 'JWT', jwk: createPublicKey(attackerRsa.public).export({ format: 'jwk' }) }, claims, 'RS256', attackerRsa.private)],
    ['alg RS256 signed by the attacker, key by URL (jku, x5u)', forge({ alg: 'RS256', typ: 'JWT', jku: 'https://attacker.example/jwks.json', x5u: 'https://attacker.example/cert.pem' }, claims, 'RS256', attackerRsa.private)],
    ['no alg, HS256 signature', signed({}, { typ: 'JWT' })],
    ['alg as an array', signed({}, { alg: ['HS256'], typ: 'JWT' })],
    ['a crit header the server does not know', signed({}, { ...HS, crit: ['exp-policy'], 'exp-policy': 1 })],
    // kid: the key is never looked up from the token
    ...(['../../../../../../dev/null', '', 'unknown', "' OR '1'='1", '|cat /etc/passwd', 'https://attacker.example/key'] as const).map(kid =>
      [`kid ${JSON.stringify(kid)}, signed with an empty key`, forge({ ...HS, kid }, claims, 'HS256', '')] as Case),
    ...([7, { path: '/dev/null' }, ['a'], null, true] as const).map(kid =>
      [`kid ${JSON.stringify(kid)}, with the right secret`, signed({}, { ...HS, kid })] as Case),
    ['kid "unknown", with the right secret (with one key the kid must still match)', signed({}, { ...HS, kid: 'unknown' })],
    // Time
    ['expired', signed({ iat: now() - 3600, exp: now() - 1 })],
    ['exp missing', forge(HS, { ...claims, exp: undefined }, 'HS256', JWT_SECRET)],
    ['exp as a string', signed({ exp: String(now() + 600) })],
    ['exp null', signed({ exp: null })],
    ['iat missing', forge(HS, { ...claims, iat: undefined }, 'HS256', JWT_SECRET)],
    ['iat older than the lifetime, exp still ahead', signed({ iat: now() - 3600, exp: now() + 600 })],
    ['iat as a string', signed({ iat: String(now()) })],
    ['not valid before a future nbf', signed({ nbf: now() + 600 })],
    // Claims that only a holder of the secret could sign, and that login never issues
    ['backend "session"', signed({ _auth_backend: 'session' })],
    ['no backend', signed({ _auth_backend: undefined })],
    ['no user id', signed({ _auth_user_id: undefined })],
    ...([null, '', {}, [1], 1.5, -0.5, true, 'x'.repeat(513)] as const).map(id =>
      [`user id ${JSON.stringify(id)?.slice(0, 20)}`, signed({ _auth_user_id: id })] as Case),
    ['no auth hash', signed({ _auth_user_hash: undefined })],
    ['an auth hash of another password', signed({ _auth_user_hash: decodeSegment(alice, 1)._auth_user_hash })],
    ['an auth hash that is a number', signed({ _auth_user_hash: 12345 })],
    // A token of a login that was never made, or made to outlive itself: its times are the login's, not the token's
    ['no login creation time', signed({ _auth_login_iat: undefined })],
    ['no login end', signed({ _auth_login_exp: undefined })],
    ['no auth_time', signed({ auth_time: undefined })],
    ['a login end as a string', signed({ _auth_login_exp: String(now() + 600) })],
    ['an auth_time with a fraction', signed({ auth_time: now() + 0.5 })],
    ['a login that ended, its token still ahead', signed({ _auth_login_exp: now() - 1 })],
    ['no jti', signed({ jti: undefined })],
    ['an empty jti', signed({ jti: '' })],
    ['a jti that is a number', signed({ jti: 42 })],
    ['the app\'s own kind of token, same secret', forge(HS, { sub: '1', scope: 'admin', iat: now(), exp: now() + 60 }, 'HS256', JWT_SECRET)],
    // Shape
    ['empty', ''],
    ['one word', 'token'],
    ['two parts', `${header}.${payload}`.replace(/\.$/, '')],
    ['four parts', `${token}.${sig}`],
    ['only dots', '...'],
    ['three junk parts', 'x.y.z'],
    ['a header that is not JSON', `${encode('{alg:HS256')}.${payload}.${sig}`],
    ['a header that is a JSON array', forge(['HS256'] as unknown as Record<string, unknown>, claims, 'HS256', JWT_SECRET)],
    ['a header that is a JSON string', forge('"HS256"', claims, 'HS256', JWT_SECRET)],
    ['a header that is null', forge('null', claims, 'HS256', JWT_SECRET)],
    ['a payload that is not JSON', forge(HS, '{"_auth_user_id":1', 'HS256', JWT_SECRET)],
    ['a payload that is an array', forge(HS, '[1]', 'HS256', JWT_SECRET)],
    ['a payload that is a string', forge(HS, '"bob"', 'HS256', JWT_SECRET)],
    ['a payload that is null', forge(HS, 'null', 'HS256', JWT_SECRET)],
    ['a padded header', `${header}=.${payload}.${sig}`],
    ['a padded payload', `${header}.${payload}==.${sig}`],
    ['characters outside base64url', `${header}.${payload.slice(0, 5)}+/${payload.slice(7)}.${sig}`],
    ['percent-encoded dots', `${header}%2E${payload}%2E${sig}`],
    ['the token twice', `${token}${token}`],
    ['a leading dot', `.${token}`],
    ['a trailing dot', `${token}.`],
    ['8 KB of junk', 'A'.repeat(8192)],
    ['8 KB payload, another secret', forge(HS, { ...claims, filler: 'x'.repeat(8192) }, 'HS256', OTHER_SECRET)],
    ['non-ASCII', `${header}.${payload}.${sig.slice(0, -2)}é`],
    ['a space inside', `${header}.${payload} .${sig}`],
    // Truncation, at every length
    ...Array.from({ length: token.length }, (_, length) => [`truncated to ${length} characters`, token.slice(0, length)] as Case)
  ])
})

t.test('RS256: HS256 signed with the public key, other algorithms, and other keys are anonymous', async t => {
  const { app } = await buildJwt(t, { algorithm: 'RS256', secret: rsa, cookie: { name: 'token' } }, { plugin: { authHashSecret: SECRET } })
  const token = await tokenFor(app)
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the genuine token works (control)')
  const claims = claimsLike(token)
  const [header, payload, sig] = token.split('.') as [string, string, string]
  const publicDer = createPublicKey(rsa.public).export({ format: 'der', type: 'spki' })
  await assertAnonymous(t, app, [
    ['HS256 with the PEM public key as HMAC secret', forge(HS, claims, 'HS256', rsa.public)],
    ['HS256 with the PEM public key, trimmed', forge(HS, claims, 'HS256', rsa.public.trim())],
    ['HS256 with the DER public key as HMAC secret', forge(HS, claims, 'HS256', publicDer)],
    ['HS384 with the PEM public key', forge({ alg: 'HS384', typ: 'JWT' }, claims, 'HS384', rsa.public)],
    ['alg none', forge({ alg: 'none', typ: 'JWT' }, claims, 'none')],
    ['PS256 with the right private key', forge({ alg: 'PS256', typ: 'JWT' }, claims, 'PS256', rsa.private)],
    ['RS512 with the right private key', forge({ alg: 'RS512', typ: 'JWT' }, claims, 'RS512', rsa.private)],
    ['RS256 with the attacker\'s key', forge({ alg: 'RS256', typ: 'JWT' }, claims, 'RS256', attackerRsa.private)],
    ['RS256 with the attacker\'s key embedded', forge({ alg: 'RS256', typ: 'JWT', jwk: createPublicKey(attackerRsa.public).export({ format: 'jwk' }) }, claims, 'RS256', attackerRsa.private)],
    ['alg header changed to HS256, RSA signature kept', `${encode(HS)}.${payload}.${sig}`],
    ['user id swapped under the genuine signature', `${header}.${encode({ ...decodeSegment(token, 1), _auth_user_id: 2 })}.${sig}`],
    ['expired, right key', forge({ alg: 'RS256', typ: 'JWT' }, { ...claims, iat: now() - 3600, exp: now() - 1 }, 'RS256', rsa.private)],
    ['signature truncated', token.slice(0, -10)]
  ])
})

t.test('with previous keys: a kid naming no key, or a header that cannot name one, is anonymous', async t => {
  const OLD_SECRET = 'the-old-jwt-secret-that-is-being-rotated-out'
  const { app } = await buildJwt(t, { kid: 'new', previousKeys: [{ kid: 'old', secret: OLD_SECRET }], cookie: { name: 'token' } }, { plugin: { authHashSecret: SECRET } })
  const token = await tokenFor(app)
  const claims = claimsLike(token)
  t.same(await whoami(app, bearer(forge({ ...HS, kid: 'old' }, claims, 'HS256', OLD_SECRET))), { status: 200, id: 1 },
    'a token of the previous key works (control)')
  await assertAnonymous(t, app, [
    ['kid naming no key, right secret', forge({ ...HS, kid: 'older' }, claims, 'HS256', JWT_SECRET)],
    ['no kid, right secret', forge(HS, claims, 'HS256', JWT_SECRET)],
    ['kid of the old key, signed with the new one', forge({ ...HS, kid: 'old' }, claims, 'HS256', JWT_SECRET)],
    ['kid of the new key, signed with the old one', forge({ ...HS, kid: 'new' }, claims, 'HS256', OLD_SECRET)],
    ['kid as a number', forge({ ...HS, kid: 1 }, claims, 'HS256', JWT_SECRET)],
    ['a header that is null', forge('null', claims, 'HS256', JWT_SECRET)],
    ['a header that is not JSON', `${encode('{"kid":')}.${token.split('.')[1]}.${token.split('.')[2]}`],
    ['a header that is not base64url', `%%%.${token.split('.')[1]}.${token.split('.')[2]}`],
    ['no dots at all', 'eyJraWQiOiJuZXcifQ']
  ])
})
