import { createHmac, createPrivateKey, generateKeyPairSync, sign as cryptoSign } from 'node:crypto'
import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import { TEST_HASH_OPTIONS, TestUsers, addRoutes, hashOf } from '../helper'

/** A 32+ character HMAC secret, distinct from the session secret of test/helper.ts. */
export const JWT_SECRET = 'a-jwt-secret-for-tests-that-is-long-enough'

export interface PemKeyPair { private: string, public: string }

export function rsaKeys (): PemKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  return { private: privateKey, public: publicKey }
}

export function ecKeys (namedCurve = 'P-256'): PemKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ec', {
    namedCurve,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  return { private: privateKey, public: publicKey }
}

export function edKeys (): PemKeyPair {
  const { privateKey, publicKey } = generateKeyPairSync('ed25519', {
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' }
  })
  return { private: privateKey, public: publicKey }
}

export function encode (value: unknown): string {
  return Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64url')
}

export function decodeSegment (token: string, index: 0 | 1): Record<string, unknown> {
  return JSON.parse(Buffer.from(token.split('.')[index] as string, 'base64url').toString('utf8'))
}

/** Signs `input` the way an attacker would, by hand: HMAC with any key for HS*, the private key for the others. */
export function signature (alg: string, key: string | Buffer, input: string): string {
  const bits = alg.slice(2)
  if (alg.startsWith('HS')) return createHmac(`sha${bits}`, key).update(input).digest('base64url')
  if (alg === 'EdDSA') return cryptoSign(null, Buffer.from(input), key).toString('base64url')
  const privateKey = createPrivateKey(key)
  if (alg.startsWith('ES')) return cryptoSign(`sha${bits}`, Buffer.from(input), { key: privateKey, dsaEncoding: 'ieee-p1363' }).toString('base64url')
  if (alg.startsWith('PS')) {
    return cryptoSign(`sha${bits}`, Buffer.from(input), { key: privateKey, padding: 6, saltLength: Number(bits) / 8 }).toString('base64url')
  }
  return cryptoSign(`sha${bits}`, Buffer.from(input), privateKey).toString('base64url')
}

/** A token assembled from raw parts: header and payload as given, signed with `key` under `alg` (or unsigned). */
export function forge (header: Record<string, unknown> | string, payload: Record<string, unknown> | string, alg: string, key?: string | Buffer): string {
  const input = `${encode(header)}.${encode(payload)}`
  return `${input}.${key === undefined ? '' : signature(alg, key, input)}`
}

export function now (): number {
  return Math.floor(Date.now() / 1000)
}

/** The claims a login of `token`'s user would carry, with fresh times and a fresh jti; override any of them. */
export function claimsLike (token: string, overrides: Record<string, unknown> = {}): Record<string, unknown> {
  const claims = decodeSegment(token, 1)
  return { ...claims, iat: now(), exp: now() + 600, jti: `forged-${Math.random()}`, ...overrides }
}

export interface JwtApp {
  app: FastifyInstance
  users: TestUsers
}

export interface JwtBuildOptions {
  /** More plugin options, beside `jwt`; `session` is left out unless given here. */
  plugin?: Record<string, unknown>
  /** Runs before the plugin is registered: other plugins the app registers first. */
  before?: (app: FastifyInstance) => Promise<void>
  /** Runs after the plugin and the routes of test/helper.ts: more routes or plugins. */
  after?: (app: FastifyInstance) => Promise<void> | void
  users?: TestUsers
}

/**
 * An app with the jwt backend, by default its only backend and the default one, users bob (id 1, password "pw")
 * and alice (id 2, password "pw2"), and the routes of test/helper.ts.
 */
export async function buildJwt (t: { teardown: (fn: () => unknown) => void }, jwt: Record<string, unknown> = {}, opts: JwtBuildOptions = {}): Promise<JwtApp> {
  const users = opts.users ?? new TestUsers()
  if (users.byId.size === 0) {
    users.add({ id: 1, username: 'bob', password: await hashOf('pw') })
    users.add({ id: 2, username: 'alice', password: await hashOf('pw2') })
  }
  const app = Fastify()
  t.teardown(() => app.close())
  await opts.before?.(app)
  await app.register(auth, {
    users,
    defaultBackend: 'jwt',
    hashOptions: TEST_HASH_OPTIONS,
    jwt: { secret: JWT_SECRET, ...jwt },
    ...opts.plugin
  } as never)
  addRoutes(app)
  await opts.after?.(app)
  await app.ready()
  return { app, users }
}

export async function tokenFor (app: FastifyInstance, username = 'bob', password = 'pw'): Promise<string> {
  const response = await app.inject({ method: 'POST', url: '/login', payload: { username, password } })
  const token = response.json().token
  if (response.statusCode !== 200 || typeof token !== 'string') throw new Error(`login failed: ${response.statusCode} ${response.body}`)
  return token
}

export function bearer (token: string): { authorization: string } {
  return { authorization: `Bearer ${token}` }
}

/** GET /whoami with these headers: the status and the user id the app saw (null when anonymous). */
export async function whoami (app: FastifyInstance, headers: Record<string, string>): Promise<{ status: number, id: unknown }> {
  const response = await app.inject({ url: '/whoami', headers })
  return { status: response.statusCode, id: response.statusCode === 200 ? response.json().user?.id ?? null : undefined }
}
