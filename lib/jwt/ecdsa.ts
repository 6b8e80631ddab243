import type { JwtAlgorithm } from '../options/jwt'

export interface Curve {
  /** The group order n. */
  order: bigint
  /** The length in bytes of each of r and s in a JOSE signature (RFC 7518, section 3.4). */
  size: number
}

/** P-256, P-384, P-521 (SEC 2, section 2.4). */
const CURVES: Partial<Record<JwtAlgorithm, Curve>> = {
  ES256: { order: 0xffffffff00000000ffffffffffffffffbce6faada7179e84f3b9cac2fc632551n, size: 32 },
  ES384: { order: 0xffffffffffffffffffffffffffffffffffffffffffffffffc7634d81f4372ddf581a0db248b0a77aecec196accc52973n, size: 48 },
  ES512: { order: 0x01fffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffa51868783bf2f966b7fcc0148f709a5d03bb5c9b8899c47aebb6fb71e91386409n, size: 66 }
}

export function curveOf (algorithm: JwtAlgorithm): Curve | undefined {
  return CURVES[algorithm]
}

/**
 * An ECDSA signature (r, s) verifies as (r, n - s) too, so every ES* token has a second spelling anyone can make.
 * Only the low one, s <= n / 2, is issued and accepted (Bitcoin's BIP 62). Returns the token in its low-s spelling, or
 * null when its signature is not two integers of the curve's size.
 */
export function lowS (token: string, curve: Curve): { token: string, wasLow: boolean } | null {
  const dot = token.lastIndexOf('.')
  const signature = Buffer.from(token.slice(dot + 1), 'base64url')
  if (signature.length !== 2 * curve.size) return null
  const s = BigInt(`0x${signature.subarray(curve.size).toString('hex')}`)
  if (s <= curve.order / 2n) return { token, wasLow: true }
  const low = Buffer.from((curve.order - s).toString(16).padStart(2 * curve.size, '0'), 'hex')
  return { token: `${token.slice(0, dot + 1)}${Buffer.concat([signature.subarray(0, curve.size), low]).toString('base64url')}`, wasLow: false }
}
