import t from 'tap'
import { execFile, execFileSync, spawnSync } from 'node:child_process'
import { cpSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'

// The package as the registry would get it: `npm pack` from the files of a fresh clone (no dist/ yet, so the
// prepack script must build it), installed into a new app with --ignore-scripts (no compiler, no build step), and
// run from CommonJS, from ESM and through the TypeScript compiler. npm's cache serves what it already holds.
t.setTimeout(300_000)
const root = join(__dirname, '..', '..')
const git = spawnSync('git', ['ls-files', '--cached', '--others', '--exclude-standard', '-z'], { cwd: root, encoding: 'utf8' })
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const lock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'))
const versionOf = (name: string): string => lock.packages[`node_modules/${name}`].version

t.test('a fresh clone packs the built code, the types and SECURITY.md, and the tarball runs in a new app', { skip: git.status !== 0 && 'not a git checkout' }, async t => {
  const work = mkdtempSync(join(tmpdir(), 'fah-pack-'))
  t.teardown(() => rmSync(work, { recursive: true, force: true }))

  // The clone: tracked and new files, none that .gitignore keeps out (dist/, coverage, node_modules).
  const clone = join(work, 'clone')
  for (const file of git.stdout.split('\0').filter(file => file !== '' && existsSync(join(root, file)))) {
    mkdirSync(dirname(join(clone, file)), { recursive: true })
    cpSync(join(root, file), join(clone, file))
  }
  t.notOk(existsSync(join(clone, 'dist')), 'the clone has no dist/')
  symlinkSync(join(root, 'node_modules'), join(clone, 'node_modules'), 'junction')

  const [packed] = JSON.parse(execFileSync(npm, ['pack', '--json', '--pack-destination', work], { cwd: clone, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }))
  const files = (packed.files as Array<{ path: string }>).map(file => file.path)
  for (const file of ['package.json', 'README.md', 'LICENSE', 'SECURITY.md', 'dist/index.js', 'dist/index.mjs', 'dist/login/door.js', 'types/index.d.ts']) {
    t.ok(files.includes(file), `the tarball holds ${file}`)
  }
  t.same(files.filter(file => /^(lib|test|bench|examples|\.ci)\/|\.tst\.ts$|tsconfig/.test(file)), [], 'and no sources, tests or tooling')

  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  for (const key of ['repository', 'homepage', 'bugs', 'author']) t.ok(manifest[key], `package.json has ${key}`)
  // npm runs these when a user installs the package (and npm 11 asks the user to approve them): it needs none.
  for (const script of ['preinstall', 'install', 'postinstall', 'prepare']) t.notOk(manifest.scripts[script], `no ${script} script ships`)

  const app = join(work, 'app')
  mkdirSync(app)
  writeFileSync(join(app, 'package.json'), JSON.stringify({ name: 'app', private: true, version: '1.0.0' }))
  execFileSync(npm, ['install', '--ignore-scripts', '--prefer-offline', '--no-audit', '--no-fund', '--loglevel=error',
    join(work, packed.filename), `fastify@${versionOf('fastify')}`, `@types/node@${versionOf('@types/node')}`], { cwd: app, stdio: 'pipe' })
  t.notOk(existsSync(join(app, 'node_modules/argon2/build')), 'argon2 was not compiled')

  const flow = (load: string): string => `${load}
    const users = new Map()
    const app = Fastify()
    await app.register(auth, {
      users: { findByUsername: async (u) => [...users.values()].find(x => x.email === u), findById: async (id) => users.get(Number(id)) },
      session: { secret: 'a-secret-of-at-least-32-characters!!', cookie: { secure: false } },
      hashOptions: { memoryCost: 9216, timeCost: 4, parallelism: 1 }
    })
    app.post('/login', async (request) => { await request.login({ user: await request.authenticate(request.body.username, request.body.password) }); return { ok: true } })
    app.get('/me', { preHandler: app.requireUser }, async (request) => ({ email: request.user.email }))
    await app.ready()
    users.set(1, { id: 1, email: 'ann@example.com', password: await app.hashPassword('correct horse') })
    const login = await app.inject({ method: 'POST', url: '/login', payload: { username: 'ann@example.com', password: 'correct horse' } })
    const me = await app.inject({ url: '/me', headers: { cookie: login.headers['set-cookie'].split(';')[0] } })
    const anonymous = await app.inject({ url: '/me' })
    console.log(JSON.stringify({ login: login.statusCode, me: me.json(), anonymous: anonymous.statusCode }))
    await app.close()`
  const expected = { login: 200, me: { email: 'ann@example.com' }, anonymous: 401 }
  writeFileSync(join(app, 'app.cjs'), `const Fastify = require('fastify'); const auth = require('fastify-auth-helpers');
    (async () => { ${flow('')} })()`)
  writeFileSync(join(app, 'app.mjs'), flow("import Fastify from 'fastify'; import auth from 'fastify-auth-helpers'"))
  // The four checks of the installed package are processes of their own, and run at once.
  const node = (args: string[]): Promise<{ status: number, stdout: string }> => new Promise(resolve => {
    execFile(process.execPath, args, { cwd: app, encoding: 'utf8' }, (error, stdout) =>
      resolve({ status: error === null ? 0 : Number(error.code ?? 1), stdout }))
  })
  const [cjs, esm] = [node(['app.cjs']), node(['app.mjs'])]

  // The published types, compiled as a strict app compiles them: nodenext, and bundler resolution.
  writeFileSync(join(app, 'app.mts'), `import Fastify from 'fastify'
import auth, { AuthenticationError } from 'fastify-auth-helpers'
const app = Fastify()
await app.register(auth, { users: { findByUsername: async () => null, findById: async () => null }, session: { secret: 'x'.repeat(32) } })
app.get('/me', { preHandler: app.requireUser }, async (request) => ({ id: request.getUserId(), error: AuthenticationError.name }))
`)
  const tsc = join(root, 'node_modules/typescript/bin/tsc')
  const resolutions = [['--module', 'nodenext'], ['--module', 'esnext', '--moduleResolution', 'bundler']]
  const compiled = resolutions.map(resolution => node([tsc, '--noEmit', '--strict', '--skipLibCheck', 'false', '--target', 'es2022',
    '--types', 'node', ...resolution, 'app.mts']))
  t.same(JSON.parse((await cjs).stdout), expected, 'CommonJS')
  t.same(JSON.parse((await esm).stdout), expected, 'ESM')
  for (const [i, resolution] of resolutions.entries()) {
    const result = await compiled[i]!
    t.equal(result.status, 0, `the types compile with ${resolution.join(' ')}: ${result.stdout}`)
  }
})
