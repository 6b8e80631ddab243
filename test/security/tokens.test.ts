import t from 'tap'
import fc from 'fast-check'
import Fastify from 'fastify'
import { createPublicKey } from 'node:crypto'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, TestUsers } from '../helper'
import {
  bearer, buildJwt, claimsLike, ecKeys, edKeys, forge, rsaKeys, tokenFor, whoami, type PemKeyPair
} from '../jwt/helper'

// Row 12 of the security suite, beyond the JWT backend's own matrix (test/jwt-forged.test.ts): key confusion. An app
// that verifies RS256 with a public key must never take an HMAC token whose secret is that key, however the key is
// spelled. fast-jwt's advisories show why spelling matters: CVE-2023-48223 (a public key taken for an HMAC secret),
// CVE-2026-34950 (again, when the PEM starts with whitespace) and GHSA-ww5h-9m49-7xx4 (again, with a zero-width or
// other character in front). The backend pins each key to one algorithm, so the key's spelling must not matter.

const rsa = rsaKeys()
const HMAC = ['HS256', 'HS384', 'HS512'] as const

/** Prefixes that hid a PEM key from fast-jwt's key detection in one advisory or another. */
const PREFIXES: Array<[string, string]> = [
  ['a leading newline', '\n'],
  ['a leading CRLF', '\r\n'],
  ['a leading space', ' '],
  ['a leading tab', '\t'],
  ['a zero-width space', '\u200b'],
  ['a byte-order mark', '\ufeff'],
  ['a word joiner', '\u2060'],
  ['a no-break space', '\u00a0'],
  ['a NUL', '\u0000'],
  ['a comment', '# public key\n'],
  ['a dot', '.']
]

/** Every way the public key could be fed to HMAC by an attacker who has it. */
function publicKeySpellings (keys: PemKeyPair): Array<[string, string | Buffer]> {
  const pem = keys.public
  const key = createPublicKey(pem)
  const body = pem.replace(/-----(BEGIN|END) PUBLIC KEY-----/g, '').trim()
  const spellings: Array<[string, string | Buffer]> = [
    ['the PEM', pem],
    ['the PEM trimmed', pem.trim()],
    ['the PEM with CRLF line ends', pem.replace(/\n/g, '\r\n')],
    ['the PEM with a second trailing newline', `${pem}\n`],
    ['the PEM body without its armour', body],
    ['the PEM body on one line', body.replace(/\s/g, '')],
    ['the DER bytes', key.export({ format: 'der', type: 'spki' })],
    ['the JWK as JSON', JSON.stringify(key.export({ format: 'jwk' }))],
    ...PREFIXES.map(([name, prefix]) => [`the PEM after ${name}`, prefix + pem] as [string, string])
  ]
  if (key.asymmetricKeyType === 'rsa') {
    spellings.push(['the PKCS#1 PEM of the same key', key.export({ format: 'pem', type: 'pkcs1' }) as string])
  }
  return spellings
}

/** The forged tokens: each spelling as the secret of each HMAC algorithm, with the claims of a genuine login. */
function forgeries (token: string, keys: PemKeyPair, header: Record<string, unknown> = {}): Array<[string, string]> {
  const claims = claimsLike(token)
  return publicKeySpellings(keys).flatMap(([name, secret]) => HMAC.map(alg =>
    [`${alg} signed with ${name}`, forge({ alg, typ: 'JWT', ...header }, claims, alg, secret)] as [string, string]))
}

async function assertAnonymous (t: Tap, app: Awaited<ReturnType<typeof buildJwt>>['app'], cases: Array<[string, string]>): Promise<void> {
  for (const [name, token] of cases) {
    t.same(await whoami(app, bearer(token)), { status: 200, id: null }, `${name} (header)`)
    t.same(await whoami(app, { cookie: `token=${encodeURIComponent(token)}` }), { status: 200, id: null }, `${name} (cookie)`)
  }
}

interface Tap {
  same: (found: unknown, wanted: unknown, message?: string) => boolean
  equal: (found: unknown, wanted: unknown, message?: string) => boolean
}

t.test('an RS256 app refuses HMAC tokens signed with its public key, whatever the spelling of the key', async t => {
  const { app } = await buildJwt(t, { algorithm: 'RS256', secret: rsa, cookie: { name: 'token' } }, { plugin: { authHashSecret: SECRET } })
  const token = await tokenFor(app)
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the genuine token works (control)')
  await assertAnonymous(t, app, forgeries(token, rsa))
})

t.test('ES256 and EdDSA apps refuse HMAC tokens signed with their public keys', async t => {
  for (const [algorithm, keys] of [['ES256', ecKeys('P-256')], ['EdDSA', edKeys()]] as const) {
    const { app } = await buildJwt(t, { algorithm, secret: keys, cookie: { name: 'token' } }, { plugin: { authHashSecret: SECRET } })
    const token = await tokenFor(app)
    t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, `${algorithm}: the genuine token works (control)`)
    await assertAnonymous(t, app, forgeries(token, keys))
  }
})

t.test('during a rotation, a previous RS256 public key is no HMAC secret either', async t => {
  const users = new TestUsers()
  const plugin = { authHashSecret: SECRET }
  const { app: before } = await buildJwt(t, { algorithm: 'RS256', secret: rsa, kid: 'rsa' }, { users, plugin })
  const { app } = await buildJwt(t, {
    algorithm: 'EdDSA',
    secret: edKeys(),
    kid: 'ed',
    cookie: { name: 'token' },
    previousKeys: [{ kid: 'rsa', algorithm: 'RS256', secret: { public: rsa.public } }]
  }, { users, plugin })
  const old = await tokenFor(before)
  t.same(await whoami(app, bearer(old)), { status: 200, id: 1 }, 'a token of the previous key works (control)')
  await assertAnonymous(t, app, [
    ...forgeries(old, rsa, { kid: 'rsa' }),
    ...forgeries(old, rsa, { kid: 'ed' }),
    ...forgeries(old, rsa)
  ])
})

t.test('an app keyed as RS256 with the PEM given a leading newline, BOM or other character: works or fails closed', async t => {
  // Where the prefix leaves a key Node can read, the app works and the forgery fails; where it does not, the app
  // refuses to start. Never an app that starts and then takes HMAC tokens.
  for (const [name, prefix] of PREFIXES) {
    const secret = { private: rsa.private, public: prefix + rsa.public }
    const app = Fastify()
    t.teardown(() => app.close())
    const users = new TestUsers()
    app.register(auth, { users, defaultBackend: 'jwt', hashOptions: TEST_HASH_OPTIONS, authHashSecret: SECRET, jwt: { algorithm: 'RS256', secret } })
    const started = await app.ready().then(() => true, (err: { code?: string }) => {
      t.equal(err.code, 'FST_AUTH_INVALID_OPTION', `${name}: refused at registration`)
      return false
    })
    if (!started) continue
    const { app: keyed } = await buildJwt(t, { algorithm: 'RS256', secret, cookie: { name: 'token' } }, { plugin: { authHashSecret: SECRET } })
    const token = await tokenFor(keyed)
    t.same(await whoami(keyed, bearer(token)), { status: 200, id: 1 }, `${name}: the app works`)
    await assertAnonymous(t, keyed, forgeries(token, rsa).concat(HMAC.map(alg =>
      [`${alg} signed with the configured spelling`, forge({ alg, typ: 'JWT' }, claimsLike(token), alg, secret.public)])))
  }
})

t.test('property: the public key with any characters around it, as any HMAC secret, authenticates no one', async t => {
  const { app } = await buildJwt(t, { algorithm: 'RS256', secret: rsa }, { plugin: { authHashSecret: SECRET } })
  const token = await tokenFor(app)
  const claims = claimsLike(token)
  const around = fc.string({ unit: 'binary', maxLength: 4 })
  await fc.assert(fc.asyncProperty(around, around, fc.constantFrom(...HMAC), fc.boolean(), async (before, after, alg, crlf) => {
    const pem = crlf ? rsa.public.replace(/\n/g, '\r\n') : rsa.public
    const forged = forge({ alg, typ: 'JWT' }, claims, alg, before + pem + after)
    const seen = await whoami(app, bearer(forged))
    return seen.status === 200 && seen.id === null
  }), { numRuns: 300 })
  t.same(await whoami(app, bearer(token)), { status: 200, id: 1 }, 'the genuine token still works (control)')
})

t.test('a public key given as the HMAC secret is refused at registration, whatever is in front of it', async t => {
  // An app that meant RS256 but left `algorithm` out would verify HS256 with its public key: anyone could sign.
  const keys = [['RSA', rsa], ['EC', ecKeys('P-256')], ['Ed25519', edKeys()]] as const
  for (const [kind, pair] of keys) {
    for (const [name, secret] of publicKeySpellings(pair)) {
      if (typeof secret === 'string' && secret.length < 32) continue
      for (const algorithm of HMAC) {
        const app = Fastify()
        t.teardown(() => app.close())
        app.register(auth, { users: new TestUsers(), defaultBackend: 'jwt', authHashSecret: SECRET, jwt: { algorithm, secret } })
        await t.rejects(app.ready(), { code: 'FST_AUTH_INVALID_OPTION', message: /is a (PEM|DER|JWK) key, not a secret/ },
          `${kind} ${name} as the ${algorithm} secret`)
      }
    }
  }
  // And ordinary secrets still work, base64 ones included.
  const secrets = [
    'a-jwt-secret-for-tests-that-is-long-enough', Buffer.alloc(48, 7).toString('base64'), Buffer.alloc(32, 1),
    '{"not":"a key","but":"a secret in JSON"}', '["a secret that is a JSON array!!"]'
  ]
  for (const secret of secrets) {
    const { app } = await buildJwt(t, { algorithm: 'HS256', secret }, { plugin: { authHashSecret: SECRET } })
    t.same(await whoami(app, bearer(await tokenFor(app))), { status: 200, id: 1 }, `the secret ${String(secret).slice(0, 12)}... works`)
  }
})
