import t from 'tap'
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as argon2 from 'argon2'
import pg from 'pg'
import { postgresFor, postgresSkipReason } from './server'

// docs/postgres.md run as written: its SQL makes the table, its app runs as a process of its own against a real
// PostgreSQL, over real HTTP, and its TypeScript block type-checks. A change that breaks the recipe fails here.

const root = join(__dirname, '..', '..')
const doc = readFileSync(join(root, 'docs', 'postgres.md'), 'utf8')

function blocks (language: string): string[] {
  return [...doc.matchAll(/^```(\w+)\n([\s\S]*?)^```$/gm)].filter(match => match[1] === language).map(match => match[2] as string)
}

/**
 * A directory where the blocks import the packages as an app does: node_modules links to this checkout's own
 * dependencies, and fastify-auth-helpers to the checkout itself (its built dist/, through package.json's exports).
 */
function appDirectory (t: { teardown: (fn: () => unknown) => void }): string {
  const dir = mkdtempSync(join(tmpdir(), 'fah-recipe-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  mkdirSync(join(dir, 'node_modules', '@types'), { recursive: true })
  for (const name of ['fastify', 'pg', '@types/pg', '@types/node']) symlinkSync(join(root, 'node_modules', name), join(dir, 'node_modules', name))
  symlinkSync(root, join(dir, 'node_modules', 'fastify-auth-helpers'))
  return dir
}

function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const probe = createServer()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number }
      probe.close(() => resolve(port))
    })
  })
}

/** Starts the app block; resolves once Fastify logs that it listens, with everything it logged kept in `log`. */
async function startApp (t: { teardown: (fn: () => unknown) => void }, file: string, env: Record<string, string>): Promise<{ child: ChildProcess, log: () => string }> {
  const child = spawn(process.execPath, [file], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  t.teardown(() => { child.kill('SIGKILL') })
  let output = ''
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the recipe app did not start within 20 s:\n${output}`)), 20_000)
    const onData = (chunk: Buffer): void => {
      output += chunk.toString()
      if (output.includes('Server listening at')) {
        clearTimeout(timer)
        resolve()
      }
    }
    child.stdout?.on('data', onData)
    child.stderr?.on('data', onData)
    child.once('exit', code => {
      clearTimeout(timer)
      reject(new Error(`the recipe app exited (${code}):\n${output}`))
    })
  })
  return { child, log: () => output }
}

t.test('docs/postgres.md: the recipe against a real PostgreSQL', { skip: postgresSkipReason() || (!existsSync(join(root, 'dist', 'index.js')) && 'run `npm run build` first') }, async t => {
  const [schema] = blocks('sql')
  const [app] = blocks('js')
  t.ok(schema, 'the doc has its SQL')
  t.ok(app?.includes('app.listen'), 'the doc has its app')

  const url = await postgresFor(t)
  const db = new pg.Client({ connectionString: url })
  await db.connect()
  t.teardown(() => db.end())
  await db.query(schema as string)
  // Ids past 2**53, where a JavaScript number would no longer be the id: the recipe must keep them exact.
  await db.query('ALTER TABLE users ALTER COLUMN id RESTART WITH 9007199254740993')

  const dir = appDirectory(t)
  writeFileSync(join(dir, 'app.mjs'), app as string)
  const port = await freePort()
  const running = await startApp(t, join(dir, 'app.mjs'), {
    DATABASE_URL: url, PORT: String(port), SESSION_SECRET: 'a-session-secret-of-32-characters!!'
  })
  const base = `http://127.0.0.1:${port}`

  async function call (method: string, path: string, body?: unknown, cookie?: string): Promise<{ status: number, json: Record<string, unknown>, cookie: string | undefined }> {
    const headers: Record<string, string> = {}
    if (body !== undefined) headers['content-type'] = 'application/json'
    if (cookie !== undefined) headers.cookie = cookie
    const response = await fetch(base + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) })
    const setCookie = response.headers.getSetCookie().find(line => line.startsWith('sessionId=') && !line.startsWith('sessionId=;'))
    return { status: response.status, json: await response.json() as Record<string, unknown>, cookie: setCookie?.split(';')[0] }
  }

  await t.test('sign-up logs in over plain http, with an exact bigint id', async t => {
    const signUp = await call('POST', '/signup', { email: 'Ann@Example.com', password: 'correct horse battery' })
    t.equal(signUp.status, 200)
    t.equal(signUp.json.id, '9007199254740993', 'the id as PostgreSQL has it, not 9007199254740992')
    t.ok(signUp.cookie, 'a session cookie that comes back over http (secure: auto)')
    const me = await call('GET', '/me', undefined, signUp.cookie)
    t.same(me.json, { id: '9007199254740993', email: 'Ann@Example.com' })
  })

  await t.test('one account per address whatever its case, and no coerced input', async t => {
    const again = await call('POST', '/signup', { email: 'ann@EXAMPLE.com', password: 'another long password' })
    t.equal(again.status, 409)
    t.equal((await db.query('SELECT count(*)::int AS n FROM users')).rows[0].n, 1)
    const coerced = await call('POST', '/signup', { email: ['bob@example.com'], password: 'correct horse battery' })
    t.equal(coerced.status, 400, 'an array is refused, not turned into a string')
    const short = await call('POST', '/signup', { email: 'bob@example.com', password: 'short' })
    t.equal(short.status, 400)
  })

  await t.test('login finds the user whatever the case of the address; a wrong password is a 401', async t => {
    const login = await call('POST', '/login', { email: 'ANN@example.COM', password: 'correct horse battery' })
    t.equal(login.status, 200)
    t.equal(login.json.id, '9007199254740993')
    t.same((await call('GET', '/me', undefined, login.cookie)).json.email, 'Ann@Example.com')
    const wrong = await call('POST', '/login', { email: 'ann@example.com', password: 'wrong horse battery' })
    t.equal(wrong.status, 401)
    t.equal(wrong.json.code, 'FST_AUTH_AUTHENTICATION_FAILED')
    const logout = await call('POST', '/logout', undefined, login.cookie)
    t.equal(logout.status, 200)
    t.equal((await call('GET', '/me', undefined, login.cookie)).status, 401, 'the old cookie is dead after logout')
  })

  await t.test('a hash made with older argon2 parameters is replaced in the table at the next login', async t => {
    const old = await argon2.hash('an old password', { type: argon2.argon2id, memoryCost: 1024, timeCost: 1, parallelism: 1 })
    await db.query('INSERT INTO users (email, password_hash) VALUES ($1, $2)', ['old@example.com', old])
    const login = await call('POST', '/login', { email: 'old@example.com', password: 'an old password' })
    t.equal(login.status, 200)
    const { rows } = await db.query('SELECT password_hash FROM users WHERE email = $1', ['old@example.com'])
    t.not(rows[0].password_hash, old, 'updatePasswordHash wrote the new hash')
    t.equal(argon2.needsRehash(rows[0].password_hash), false, 'made with the current parameters')
    t.ok(await argon2.verify(rows[0].password_hash, 'an old password'))
    t.equal((await call('GET', '/me', undefined, login.cookie)).status, 200, 'the login made with the upgrade stays valid')
  })

  await t.test('a dropped idle connection is logged and survived, thanks to the pool\'s error listener', async t => {
    const login = await call('POST', '/login', { email: 'ann@example.com', password: 'correct horse battery' })
    const { rows } = await db.query(`SELECT pg_terminate_backend(pid) AS ended FROM pg_stat_activity
      WHERE datname = current_database() AND pid <> pg_backend_pid() AND backend_type = 'client backend'`)
    t.ok(rows.length > 0 && rows.every(row => row.ended === true), 'the app\'s idle connections were ended')
    const deadline = Date.now() + 5000
    while (!running.log().includes('PostgreSQL: an idle client failed') && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 50))
    t.match(running.log(), 'PostgreSQL: an idle client failed', 'the pool\'s error reached the listener')
    t.equal(running.child.exitCode, null, 'the process is still running')
    const me = await call('GET', '/me', undefined, login.cookie)
    t.equal(me.status, 200, 'the pool opened a new connection for the next request')
  })

  await t.test('deactivating a user in the table ends their login on the next request', async t => {
    const login = await call('POST', '/login', { email: 'ann@example.com', password: 'correct horse battery' })
    t.equal((await call('GET', '/me', undefined, login.cookie)).status, 200)
    await db.query('UPDATE users SET is_active = false WHERE lower(email) = $1', ['ann@example.com'])
    t.equal((await call('GET', '/me', undefined, login.cookie)).status, 401)
    await db.query('UPDATE users SET is_active = true')
  })
})

t.test('docs/postgres.md: the TypeScript block type-checks under nodenext, strict, skipLibCheck false', { skip: !existsSync(join(root, 'dist', 'index.js')) && 'run `npm run build` first' }, async t => {
  const [typed] = blocks('ts')
  t.ok(typed, 'the doc has its TypeScript block')
  const dir = appDirectory(t)
  writeFileSync(join(dir, 'users.ts'), typed as string)
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ type: 'module' }))
  writeFileSync(join(dir, 'tsconfig.json'), JSON.stringify({
    compilerOptions: { module: 'nodenext', target: 'es2022', strict: true, skipLibCheck: false, noEmit: true, types: ['node'] },
    files: ['users.ts']
  }))
  const tsc = spawnSync(process.execPath, [join(root, 'node_modules', 'typescript', 'bin', 'tsc'), '-p', dir], { encoding: 'utf8', timeout: 60_000 })
  t.equal(tsc.status, 0, tsc.stdout + tsc.stderr)
})
