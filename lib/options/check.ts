import { InvalidOptionError } from '../errors'

export function fail (message: string): never {
  throw new InvalidOptionError(message)
}

export function isObject (value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** An options object: refuses anything else, and every key it does not know, naming the nearest one it does. */
export function checkObject (value: unknown, name: string, known: readonly string[], what = 'an object of options'): Record<string, unknown> {
  if (!isObject(value)) fail(name === '' ? `the options must be ${what}` : `\`${name}\` must be ${what}`)
  for (const key of Object.keys(value)) {
    if (!known.includes(key)) fail(`\`${name === '' ? key : `${name}.${key}`}\` is not an option${suggestion(key, known)}`)
  }
  return value
}

function suggestion (key: string, known: readonly string[]): string {
  let best: string | undefined
  let bestDistance = Infinity
  for (const candidate of known) {
    const distance = editDistance(key.toLowerCase(), candidate.toLowerCase())
    if (distance < bestDistance) {
      best = candidate
      bestDistance = distance
    }
  }
  const near = best !== undefined && bestDistance <= Math.max(2, Math.floor(best.length / 3))
  return near ? `: did you mean \`${best as string}\`?` : `: the options are ${known.join(', ')}`
}

/** Levenshtein distance, with a swap of two neighbours counted as one edit. */
function editDistance (a: string, b: string): number {
  const rows: number[][] = Array.from({ length: a.length + 1 }, (_, i) => [i])
  for (let j = 1; j <= b.length; j++) (rows[0] as number[])[j] = j
  for (let i = 1; i <= a.length; i++) {
    const row = rows[i] as number[]
    const above = rows[i - 1] as number[]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1
      row[j] = Math.min((above[j] as number) + 1, (row[j - 1] as number) + 1, (above[j - 1] as number) + cost)
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
        row[j] = Math.min(row[j] as number, ((rows[i - 2] as number[])[j - 2] as number) + 1)
      }
    }
  }
  return (rows[a.length] as number[])[b.length] as number
}

export function checkFunction<F> (value: unknown, name: string): F | undefined {
  if (value !== undefined && typeof value !== 'function') fail(`\`${name}\` must be a function`)
  return value as F | undefined
}

export function positiveInteger (value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!(Number.isSafeInteger(value) && (value as number) > 0)) fail(`\`${name}\` must be a positive integer`)
  return value as number
}

export function cacheSize (value: unknown, name: string, fallback: number): number {
  if (value === undefined) return fallback
  if (!(Number.isSafeInteger(value) && (value as number) >= 0)) fail(`\`${name}\` must be a whole number, 0 to turn the cache off`)
  return value as number
}

/** The longest a Node timer waits: a longer delay runs after 1 ms, and every store call would time out at once. */
const MAX_TIMEOUT = 2 ** 31 - 1

export function timeout (value: unknown, name: string): number {
  const ms = positiveInteger(value, name, 5000)
  if (ms > MAX_TIMEOUT) fail(`\`${name}\` must be at most ${MAX_TIMEOUT} ms (about 24.8 days)`)
  return ms
}

export function isKeyText (value: unknown): value is string | Buffer {
  return (typeof value === 'string' || Buffer.isBuffer(value)) && value.length > 0
}

export function isSecret (value: unknown): value is string | Buffer {
  return (typeof value === 'string' || Buffer.isBuffer(value)) && value.length >= 32
}
