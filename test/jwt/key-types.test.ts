import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { SECRET } from '../helper'
import { bearer, buildJwt, tokenFor, whoami } from './helper'

function pems (type: 'rsa-pss' | 'ed448'): { private: string, public: string } {
  const { privateKey, publicKey } = type === 'rsa-pss'
    ? generateKeyPairSync('rsa-pss', { modulusLength: 2048 })
    : generateKeyPairSync('ed448')
  return {
    private: privateKey.export({ type: 'pkcs8', format: 'pem' }) as string,
    public: publicKey.export({ type: 'spki', format: 'pem' }) as string
  }
}

t.test('an Ed448 key signs EdDSA, as an Ed25519 key does', async t => {
  const { app } = await buildJwt(t, { algorithm: 'EdDSA', secret: pems('ed448') }, { plugin: { authHashSecret: SECRET } })
  t.same(await whoami(app, bearer(await tokenFor(app))), { status: 200, id: 1 })
})

t.test('an RSA-PSS key, which fast-jwt cannot sign with, fails at registration with the option named', async t => {
  await t.rejects(buildJwt(t, { algorithm: 'PS256', secret: pems('rsa-pss') }, { plugin: { authHashSecret: SECRET } }),
    { code: 'FST_AUTH_INVALID_OPTION', message: /`jwt.secret` does not suit the algorithm PS256: its key type is rsa-pss/ })
})
