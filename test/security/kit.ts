import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Test } from 'tap'
import type { Scheduler } from 'fast-check'
import { sign } from '@fastify/cookie'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { SECRET, TEST_HASH_OPTIONS, type BuildOptions, type TestUsers, build } from '../helper'

export { spyOnVerify, type VerifyCall } from '../helper'

declare module 'fastify' {
  /** The session data the attacks' own routes write. */
  interface Session {
    _csrf?: string
    cart?: string
    flash?: string
    visited?: boolean
    visits?: number
    userId?: number
  }
}

type Callback = (error?: unknown, value?: unknown) => void
type Method = 'get' | 'set' | 'destroy'

export const RECORD_PREFIX = 'auth-login:'

/**
 * A session store that keeps JSON, as Redis or a database does: nothing is shared by reference between requests or
 * between app instances, so a stale save really overwrites what another request wrote. Answers on a later tick
 * unless `sync`, so requests interleave as they do against a network store.
 */
export class JsonStore {
  readonly data = new Map<string, string>()
  constructor (readonly sync = false) {}

  protected answer (callback: Callback, error?: unknown, value?: unknown): void {
    if (this.sync) callback(error, value)
    else setImmediate(callback, error, value)
  }

  get (id: string, callback: Callback): void {
    const raw = this.data.get(id)
    this.answer(callback, null, raw === undefined ? undefined : JSON.parse(raw))
  }

  set (id: string, value: unknown, callback: Callback): void {
    this.data.set(id, JSON.stringify(value))
    this.answer(callback)
  }

  destroy (id: string, callback: Callback): void {
    this.data.delete(id)
    this.answer(callback)
  }

  records (): string[] {
    return [...this.data.keys()].filter(key => key.startsWith(RECORD_PREFIX))
  }

  sessions (): string[] {
    return [...this.data.keys()].filter(key => !key.startsWith(RECORD_PREFIX))
  }

  /** The stored session behind a signed `sessionId=<id>.<signature>` cookie, or undefined. */
  sessionOf (cookie: string): Record<string, unknown> | undefined {
    const raw = this.data.get(sessionIdOf(cookie))
    return raw === undefined ? undefined : JSON.parse(raw)
  }
}

export function sessionIdOf (cookie: string): string {
  const value = decodeURIComponent(cookie.slice(cookie.indexOf('=') + 1))
  return value.slice(0, value.lastIndexOf('.'))
}

/** 'fail': answers an error. 'hang': never answers. 'late': does the work and answers long after the store timeout. */
export type FaultMode = 'fail' | 'hang' | 'late'

export interface StoreCall {
  method: Method
  /** 'record' for the plugin's login records, 'session' for @fastify/session's entries. */
  kind: 'record' | 'session'
  /** Made by `session.regenerate()` (its destroy of the old id and set of the new one). */
  inRegenerate: boolean
}

/**
 * A synchronous JsonStore that logs its calls and can break one of them. Tests first run a flow without a fault to
 * learn its calls, then once per call with that call broken.
 */
export class FaultyStore extends JsonStore {
  calls: StoreCall[] = []
  #fault: { at: number, mode: FaultMode } | undefined
  readonly #late = new Set<NodeJS.Timeout>()

  constructor (readonly lateMs = 0) {
    super(true)
  }

  /** The `at`-th call from now (0-based) breaks in the given way. */
  breakCall (at: number, mode: FaultMode): void {
    this.calls = []
    this.#fault = { at, mode }
  }

  /** From now on, calls are logged and none breaks. */
  record (): void {
    this.calls = []
    this.#fault = undefined
  }

  /** Resolves when every 'late' call has landed. */
  async settled (): Promise<void> {
    while (this.#late.size > 0) await new Promise(resolve => setTimeout(resolve, this.lateMs))
  }

  #trip (method: Method, id: string, callback: Callback, work: () => void): void {
    const limit = Error.stackTraceLimit
    Error.stackTraceLimit = 50
    const stack = new Error().stack ?? ''
    Error.stackTraceLimit = limit
    this.calls.push({ method, kind: id.startsWith(RECORD_PREFIX) ? 'record' : 'session', inRegenerate: stack.includes('regenerate') })
    const fault = this.#fault
    if (fault === undefined || this.calls.length - 1 !== fault.at) {
      work()
      return
    }
    this.#fault = undefined
    if (fault.mode === 'fail') {
      callback(new Error('the store is down'))
    } else if (fault.mode === 'late') {
      const timer = setTimeout(() => {
        this.#late.delete(timer)
        work()
      }, this.lateMs)
      this.#late.add(timer)
    }
  }

  override get (id: string, callback: Callback): void {
    this.#trip('get', id, callback, () => super.get(id, callback))
  }

  override set (id: string, value: unknown, callback: Callback): void {
    const json = JSON.stringify(value)
    this.#trip('set', id, callback, () => {
      this.data.set(id, json)
      callback()
    })
  }

  override destroy (id: string, callback: Callback): void {
    this.#trip('destroy', id, callback, () => super.destroy(id, callback))
  }
}

/**
 * A synchronous JsonStore whose every call waits for fast-check's scheduler while `scheduler` is set, so a property
 * explores the orders in which concurrent requests reach the store.
 */
export class ScheduledStore extends JsonStore {
  scheduler: Scheduler | undefined

  constructor () {
    super(true)
  }

  #later (label: string, run: () => void): boolean {
    if (this.scheduler === undefined) return false
    this.scheduler.schedule(Promise.resolve(), label).then(run, run)
    return true
  }

  override get (id: string, callback: Callback): void {
    if (!this.#later(`get ${id}`, () => super.get(id, callback))) super.get(id, callback)
  }

  override set (id: string, value: unknown, callback: Callback): void {
    // Serialized now, as a network store would at call time; written when the scheduler lets it through.
    const json = JSON.stringify(value)
    const write = (): void => {
      this.data.set(id, json)
      callback()
    }
    if (!this.#later(`set ${id}`, write)) write()
  }

  override destroy (id: string, callback: Callback): void {
    if (!this.#later(`destroy ${id}`, () => super.destroy(id, callback))) super.destroy(id, callback)
  }
}

/** The m, t and p of a PHC argon2 hash, to check a verify ran with the plugin's current parameters. */
export function argon2Parameters (digest: string): { memoryCost: number, timeCost: number, parallelism: number } {
  const params = Object.fromEntries((digest.split('$')[3] ?? '').split(',').map(pair => pair.split('=')))
  return { memoryCost: Number(params.m), timeCost: Number(params.t), parallelism: Number(params.p) }
}

export const CURRENT_PARAMETERS = {
  memoryCost: TEST_HASH_OPTIONS.memoryCost,
  timeCost: TEST_HASH_OPTIONS.timeCost,
  parallelism: TEST_HASH_OPTIONS.parallelism
}

export interface Deferred<T = void> {
  promise: Promise<T>
  resolve (value: T): void
}

export function deferred<T = void> (): Deferred<T> {
  let settle!: (value: T) => void
  const promise = new Promise<T>(resolve => { settle = resolve })
  return { promise, resolve: settle }
}

/** Who the app thinks this cookie belongs to, read through GET /whoami. */
export async function whoIs (app: FastifyInstance, cookie: string | undefined): Promise<{ status: number, username: string | null }> {
  const response = await app.inject({ url: '/whoami', headers: cookie === undefined ? {} : { cookie } })
  return { status: response.statusCode, username: response.statusCode === 200 ? response.json().user?.username ?? null : null }
}

/** Every Set-Cookie header of a response, as raw strings. */
export function setCookieHeaders (response: LightMyRequestResponse): string[] {
  const header = response.headers['set-cookie']
  if (header === undefined) return []
  return Array.isArray(header) ? header : [String(header)]
}

/** test/helper.ts's build options, with `routes` for the attack's own routes, added next to the helper's. */
export type AppOptions = Omit<BuildOptions, 'routes' | 'extend'> & { routes?: (app: FastifyInstance) => unknown }

/** test/helper.ts's app, plus routes of the attack's own. */
export async function buildApp (t: { teardown: (fn: () => unknown) => void }, options: AppOptions = {}): Promise<{ app: FastifyInstance, users: TestUsers }> {
  const { routes, ...rest } = options
  return build(t, { ...rest, extend: routes })
}

/**
 * Asserts that the docs (README.md or a file under docs/) show, line for line (indentation aside), the recipe that
 * `file` (a test's own source) holds between `// recipe:<name>:start` and `// recipe:<name>:end`: the documented
 * recipes are the code the tests attack. Any docs file will do, so a recipe can move between them.
 */
export function assertReadmeShowsRecipe (t: Pick<Test, 'ok'>, file: string, name: string): void {
  const source = readFileSync(file, 'utf8')
  const start = `// recipe:${name}:start`
  const recipe = source.slice(source.indexOf(start) + start.length, source.indexOf(`// recipe:${name}:end`))
  const lines = (text: string): string[] => text.split('\n').map(line => line.trim()).filter(line => line !== '')
  const wanted = lines(recipe).join('\n')
  const shownIn = docsFiles().filter(doc => lines(readFileSync(doc, 'utf8')).join('\n').includes(wanted))
  t.ok(lines(recipe).length > 10)
  t.ok(shownIn.length > 0, `a docs file (README.md or docs/*.md) contains the recipe ${name}, line for line`)
}

/** README.md and every Markdown file under docs/. */
function docsFiles (): string[] {
  const root = join(__dirname, '..', '..')
  const docs = readdirSync(join(root, 'docs')).filter(name => name.endsWith('.md')).map(name => join(root, 'docs', name))
  return [join(root, 'README.md'), ...docs]
}

/** A cookie for any session id, signed as the app signs its own: what the holder of that session's cookie sends. */
export function cookieForSession (id: string, name = 'sessionId'): string {
  return `${name}=${encodeURIComponent(sign(id, SECRET))}`
}

/** The users that the sessions now in the store authenticate as: a store left in a logged-in state shows here. */
export async function loggedInSessions (app: FastifyInstance, store: JsonStore): Promise<string[]> {
  const found: string[] = []
  for (const id of store.sessions()) {
    const { username } = await whoIs(app, cookieForSession(id))
    if (username !== null) found.push(username)
  }
  return found
}
