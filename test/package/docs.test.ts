import t, { type Test } from 'tap'
import ts from 'typescript'
import { spawn, type ChildProcess } from 'node:child_process'
import { randomBytes } from 'node:crypto'
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { builtinModules } from 'node:module'
import { join, relative } from 'node:path'
import { redisFor, redisSkipReason } from '../redis/server'

// Every fenced block of README.md and docs/**/*.md, as a reader would use it:
// - ```js and ```ts blocks are programs: run against the built package (ts transpiled first), with the environment
//   the docs name (SESSION_SECRET, JWT_SECRET, REDIS_URL: a redis-server of the test's own), until their top level
//   has run (they listen or are ready); a `test=<name>` word in the info string names the scenario below, played
//   over real HTTP on http://localhost, with a cookie jar that keeps what a browser keeps.
// - ```js fragment blocks are parsed; ```ts and ```ts fragment blocks are type-checked as modules, under module nodenext and under moduleResolution
//   bundler, strict, skipLibCheck false; a block that declares into other modules is checked alone. A fragment is code that continues an app: it is checked,
//   not run, with `app`, `users` and `redis` declared for it when it uses them without declaring them.
// - every package a block imports is named by an `npm install` line of README.md or of the block's own file, and
//   every package an `npm install` line names is one the tests install (package.json), so the lines are tested too.
// New files and blocks are picked up as they are added; a block in a language this test does not know fails it.
t.setTimeout(600_000)
const root = join(__dirname, '..', '..')
const work = join(root, '.docs-blocks')
const LANGUAGES = new Set(['js', 'ts', 'sh', 'json', 'text', 'sql'])
const USER = { username: 'ann@example.com', password: 'correct horse' }

export interface Block {
  file: string
  line: number
  lang: string
  words: string[]
  code: string
}

function docFiles (): string[] {
  const docs = (dir: string): string[] => readdirSync(join(root, dir), { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory() ? docs(join(dir, entry.name)) : entry.name.endsWith('.md') ? [join(dir, entry.name)] : [])
  return ['README.md', ...docs('docs')]
}

/** The fenced blocks of a Markdown file; `line` is the opening fence's line, and indentation (in lists) is dropped. */
export function blocksOf (file: string, text: string): Block[] {
  const blocks: Block[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const open = /^( *)(`{3,})(.*)$/.exec(lines[i]!)
    if (open === null) continue
    const [, indent, fence, info] = open as unknown as [string, string, string, string]
    const end = lines.findIndex((line, j) => j > i && line.trim() === fence)
    if (end === -1) throw new Error(`${file}:${i + 1}: a code fence that is never closed`)
    const [lang = '', ...words] = info.trim().split(/\s+/).filter(word => word !== '')
    const code = lines.slice(i + 1, end).map(line => line.startsWith(indent) ? line.slice(indent.length) : line.trimStart()).join('\n')
    blocks.push({ file, line: i + 1, lang, words, code })
    i = end
  }
  return blocks
}

const blocks = docFiles().flatMap(file => blocksOf(file, readFileSync(join(root, file), 'utf8')))
const where = (block: Block): string => `${block.file}:${block.line}`
const isCode = (block: Block): boolean => block.lang === 'js' || block.lang === 'ts'
const isFragment = (block: Block): boolean => block.words.includes('fragment')
const scenarioOf = (block: Block): string | undefined => block.words.find(word => word.startsWith('test='))?.slice(5)
/** A recipe that a test of its own runs line for line (`tested-by=test/x.test.ts`): that test is its check. */
const testedBy = (block: Block): string | undefined => block.words.find(word => word.startsWith('tested-by='))?.slice(10)

t.test('every block has a language this test knows', async t => {
  t.ok(blocks.filter(isCode).length >= 8, 'the code blocks were found')
  for (const block of blocks) t.ok(LANGUAGES.has(block.lang), `${where(block)}: \`\`\`${block.lang}`)
  for (const block of blocks.filter(block => !isCode(block))) t.notOk(block.words.length, `${where(block)}: no words after ${block.lang}`)
  for (const block of blocks.filter(isFragment)) t.notOk(scenarioOf(block), `${where(block)}: a fragment is not run, so it has no scenario`)
})

t.test('a recipe run by a test of its own appears in that test line for line, in order, but for its imports', async t => {
  for (const block of blocks.filter(block => testedBy(block) !== undefined)) {
    const file = join(root, testedBy(block) as string)
    t.ok(existsSync(file), `${where(block)}: ${testedBy(block) as string} exists`)
    const test = existsSync(file) ? readFileSync(file, 'utf8').split('\n').map(line => line.trim()) : []
    let at = 0
    // Imports are left out: the test imports the same names from the sources, the block from the package.
    for (const line of block.code.split('\n').map(line => line.trim()).filter(line => line !== '' && !line.startsWith('import '))) {
      const found = test.indexOf(line, at)
      t.ok(found >= 0, `${where(block)}: \`${line}\` is in ${testedBy(block) as string}, after the line before it`)
      if (found >= 0) at = found + 1
    }
  }
})

/** The packages a block imports: bare names, without subpaths, not Node's own. */
function importsOf (code: string): string[] {
  const names = [...code.matchAll(/^\s*import\s[^'"]*?['"]([^'"]+)['"]/gm)].map(match => match[1]!)
  return names.filter(name => !name.startsWith('.') && !name.startsWith('node:') && !builtinModules.includes(name))
    .map(name => name.startsWith('@') ? name.split('/').slice(0, 2).join('/') : name.split('/')[0]!)
}

/** The package an install word names: `name@range`, a packed tarball `name-1.2.3.tgz`, or a git URL `.../name.git`. */
function packageNamed (word: string): string {
  if (word.endsWith('.tgz')) return word.split('/').pop()!.replace(/-\d+\.\d+\.\d+[^/]*\.tgz$/, '')
  if (/^git\+|^github:/.test(word)) return word.split('/').pop()!.replace(/\.git$/, '')
  return word.replace(/(?<=.)@[^/]*$/, '')
}

/** The packages `npm install` lines name (options and version ranges dropped). */
function installedBy (block: Block): string[] {
  return [...block.code.matchAll(/^\s*npm (?:install|i)\b([^#\n&|;]*)/gm)].flatMap(match => match[1]!.trim().split(/\s+/))
    .filter(word => word !== '' && !word.startsWith('-')).map(packageNamed)
}

t.test('every imported package is in an install line, and every install line names a tested package', async t => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  const tested = new Set([manifest.name, ...Object.keys(manifest.dependencies), ...Object.keys(manifest.devDependencies)])
  const shells = blocks.filter(block => block.lang === 'sh')
  const readmeInstalls = shells.filter(block => block.file === 'README.md').flatMap(installedBy)
  for (const block of shells) {
    for (const name of installedBy(block)) t.ok(tested.has(name), `${where(block)}: ${name} is installed by the tests`)
  }
  for (const block of blocks.filter(isCode)) {
    const installed = new Set([...readmeInstalls, ...shells.filter(shell => shell.file === block.file).flatMap(installedBy)])
    for (const name of importsOf(block.code)) t.ok(installed.has(name), `${where(block)} imports ${name}: an install line names it`)
  }
})

/** GitHub's anchor for a heading: lower case, punctuation dropped, spaces made hyphens. */
const anchorOf = (heading: string): string => heading.trim().toLowerCase().replace(/[^\p{L}\p{N} _-]/gu, '').replace(/ /g, '-')

/** The anchors of a Markdown file's headings (outside code blocks). */
function anchorsOf (text: string): Set<string> {
  const anchors = new Set<string>()
  let fence = false
  for (const line of text.split('\n')) {
    if (/^ *`{3,}/.test(line)) fence = !fence
    const heading = /^#{1,6} (.*)$/.exec(line)
    if (!fence && heading !== null) anchors.add(anchorOf(heading[1]!))
  }
  return anchors
}

t.test('every link to the repository\'s own files and headings lands', async t => {
  const BASE = 'https://github.com/fastify-auth-helpers/fastify-auth-helpers/blob/main/'
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.equal(manifest.homepage, `${BASE.replace('/blob/main/', '')}#readme`, 'the links\' base is the package\'s repository')
  for (const file of [...docFiles(), 'SECURITY.md', 'bench/README.md']) {
    const text = readFileSync(join(root, file), 'utf8')
    const outside = text.split('\n').filter((line, i, lines) => !blocksOf(file, text).some(block => i + 1 >= block.line && i < block.line + block.code.split('\n').length + 1)).join('\n')
    for (const [, target] of outside.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^https?:/.test(target!) && !target!.startsWith(BASE)) continue
      // README.md is also the registry's page, where links relative to the repository do not resolve.
      if (file === 'README.md') t.ok(target!.startsWith(BASE) || target!.startsWith('#'), `README.md: ${target} is absolute`)
      const [path, hash] = target!.startsWith(BASE) ? target!.slice(BASE.length).split('#') : target!.split('#')
      const resolved = path === '' ? file : target!.startsWith(BASE) ? path! : join(file, '..', path!)
      t.ok(existsSync(join(root, resolved)), `${file}: ${target} names a file that exists`)
      if (hash !== undefined && resolved.endsWith('.md')) {
        t.ok(anchorsOf(readFileSync(join(root, resolved), 'utf8')).has(hash), `${file}: ${target} names a heading there`)
      }
    }
  }
})

t.test('the README reads in minutes: under 250 lines, none over 300 characters, every term its own', async t => {
  const lines = readFileSync(join(root, 'README.md'), 'utf8').split('\n')
  t.ok(lines.length < 250, `README.md has ${lines.length} lines`)
  for (const [i, line] of lines.entries()) t.ok(line.length <= 300, `README.md:${i + 1} is ${line.length} characters`)
  t.notMatch(lines.join('\n'), /\bthe seed\b/i, 'no "the seed", which a reader cannot know')
  for (const section of ['Install', 'Quick start', 'Options', 'Decorators', 'Error codes', 'What it does not do (yet)']) {
    t.ok(lines.includes(`## ${section}`), `a section ${section}`)
  }
})

/** Whether the packed package holds `file` (package.json `files`, and what npm always packs). */
function shipped (file: string, files: string[]): boolean {
  if (['README.md', 'LICENSE', 'package.json'].includes(file)) return true
  return files.some(pattern => pattern.includes('*')
    ? new RegExp(`^${pattern.replace(/\./g, '\\.').replace(/\*/g, '[^/]*')}$`).test(file)
    : file === pattern || file.startsWith(`${pattern}/`))
}

t.test('the shipped docs link relatively only to files the package ships; the rest by the repository\'s address', async t => {
  const { files } = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }
  t.ok(shipped('docs/jwt.md', files) && shipped('types/index.d.ts', files) && !shipped('examples/demo/app.js', files), 'files is read')
  for (const file of [...docFiles(), 'SECURITY.md'].filter(file => shipped(file, files))) {
    const text = readFileSync(join(root, file), 'utf8')
    for (const [, target] of text.matchAll(/\]\(([^)\s]+)\)/g)) {
      if (/^[a-z]+:/.test(target!) || target!.startsWith('#')) continue
      const resolved = relative(root, join(root, file, '..', target!.split('#')[0]!))
      t.ok(shipped(resolved, files), `${file}: ${target} is in the package (else link to it on GitHub)`)
    }
  }
})

const built = existsSync(join(root, 'dist/index.mjs'))
rmSync(work, { recursive: true, force: true })
mkdirSync(work, { recursive: true })
t.teardown(() => rmSync(work, { recursive: true, force: true }))

/** A file name for the block, from where it is. */
const slug = (block: Block): string => `${block.file.replace(/\W+/g, '-')}-${block.line}`

/**
 * What a fragment uses without declaring, declared after its code (so its line numbers stay the Markdown's): the
 * app it continues, a user store and a node-redis client, typed as the docs describe them.
 */
function context (block: Block): string {
  if (!isFragment(block)) return ''
  const declared = (name: string): boolean =>
    new RegExp(`\\b(?:const|let|var|function|class)\\s+${name}\\b|^\\s*import\\b[^\\n]*\\b${name}\\b`, 'm').test(block.code)
  const uses = (name: string): boolean => new RegExp(`\\b${name}\\b`).test(block.code) && !declared(name)
  // The app this fragment continues has registered the plugin, whose types add the decorators.
  const lines = ['', "declare const theRegisteredPlugin: typeof import('fastify-auth-helpers')"]
  if (uses('app')) lines.push("declare const app: import('fastify').FastifyInstance")
  if (uses('users')) lines.push("declare const users: import('fastify-auth-helpers').UserStore")
  if (uses('redis')) lines.push("declare const redis: import('redis').RedisClientType")
  return lines.join('\n') + '\nexport {}\n'
}

// A recipe run by a test of its own is type-checked too, as a reader pastes it: whole, or as a fragment of an app.
const typeChecked = blocks.filter(block => block.lang === 'ts')
const modes: Array<[string, ts.CompilerOptions]> = [
  ['module nodenext', { module: ts.ModuleKind.NodeNext, moduleResolution: ts.ModuleResolutionKind.NodeNext }],
  ['moduleResolution bundler', { module: ts.ModuleKind.ESNext, moduleResolution: ts.ModuleResolutionKind.Bundler }]
]
/** Diagnostics as `file:line: TSn message`, with a block's lines given as its Markdown file's. */
function format (diagnostics: readonly ts.Diagnostic[], blockOf: (fileName: string) => Block | undefined): string[] {
  return diagnostics.map(diagnostic => {
    const message = ts.flattenDiagnosticMessageText(diagnostic.messageText, '\n')
    if (diagnostic.file === undefined || diagnostic.start === undefined) return `TS${diagnostic.code} ${message}`
    const { line } = diagnostic.file.getLineAndCharacterOfPosition(diagnostic.start)
    const block = blockOf(diagnostic.file.fileName)
    const at = block === undefined ? relative(root, diagnostic.file.fileName) : `${block.file}:${block.line + 1 + line}`
    return `${at}: TS${diagnostic.code} ${message}`
  })
}

/** Whether a block declares into other modules or the global scope, which would reach every file of its program. */
const declaresAmbient = (block: Block): boolean => /^\s*declare\s+(module|global)\b/m.test(block.code)

// One parse of each file for every program below: the packages' declaration files are most of the work.
const parsed = new Map<string, ts.SourceFile | undefined>()
function hostFor (options: ts.CompilerOptions): ts.CompilerHost {
  const host = ts.createCompilerHost(options)
  const getSourceFile = host.getSourceFile.bind(host)
  host.getSourceFile = (name, language, ...rest) => {
    const key = `${name}|${JSON.stringify(language)}`
    if (name.startsWith(work) || !parsed.has(key)) parsed.set(key, getSourceFile(name, language, ...rest))
    return parsed.get(key)
  }
  return host
}

for (const [mode, resolution] of modes) {
  t.test(`the ts blocks type-check (${mode}, strict, skipLibCheck false)`, { skip: !built && 'run `npm run build` first' }, async t => {
    const options: ts.CompilerOptions = {
      ...resolution,
      target: ts.ScriptTarget.ES2022,
      lib: ['lib.es2023.d.ts'],
      types: ['node'],
      strict: true,
      skipLibCheck: false,
      noEmit: true
    }
    const host = hostFor(options)
    const files = new Map<string, Block>()
    for (const block of typeChecked) {
      const file = join(work, `${slug(block)}.mts`)
      writeFileSync(file, `${block.code}\n${context(block)}export {}\n`)
      files.set(file, block)
    }
    const check = (program: ts.Program, file: string): string[] => {
      const source = program.getSourceFile(file)
      return format([...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source)], name => files.get(name))
    }
    // The blocks that are plain modules in one program: one module cannot help another type-check. A block with a
    // `declare module` or `declare global` can, so each of those is a program of its own.
    const together = [...files].filter(([, block]) => !declaresAmbient(block))
    const alone = [...files].filter(([, block]) => declaresAmbient(block))
    const all = ts.createProgram({ rootNames: together.map(([file]) => file), options, host })
    const programs: Array<[ts.Program, Array<[string, Block]>]> = [[all, together],
      ...alone.map(([file, block]): [ts.Program, Array<[string, Block]>] => [ts.createProgram({ rootNames: [file], options, host }), [[file, block]]])]
    // The packages' declaration files (what skipLibCheck false adds), each checked once, in the first program with it.
    const libraries: ts.Diagnostic[] = [...all.getGlobalDiagnostics(), ...all.getOptionsDiagnostics()]
    const checkedLibraries = new Set<string>()
    for (const [program, blocksOfProgram] of programs) {
      for (const source of program.getSourceFiles()) {
        if (files.has(source.fileName) || checkedLibraries.has(source.fileName)) continue
        checkedLibraries.add(source.fileName)
        libraries.push(...program.getSyntacticDiagnostics(source), ...program.getSemanticDiagnostics(source))
      }
      for (const [file, block] of blocksOfProgram) {
        t.same(check(program, file), [], `${where(block)}${isFragment(block) ? ' (fragment)' : ''}${program === all ? '' : ', alone'}`)
      }
    }
    t.same(format(libraries, () => undefined), [], 'the declaration files the blocks import')
  })
}

t.test('the js fragments parse', async t => {
  for (const block of blocks.filter(block => block.lang === 'js' && isFragment(block))) {
    const { diagnostics = [] } = ts.transpileModule(block.code, { reportDiagnostics: true, compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } })
    t.same(format(diagnostics, () => block), [], where(block))
  }
})

// The program's harness: the docs say `port: 3000`, the test takes a free port, and the program's top level having
// run (or thrown) is reported on stdout.
const RUNNER = `import net from 'node:net'
const listening = []
const listen = net.Server.prototype.listen
net.Server.prototype.listen = function (...args) {
  if (typeof args[0] === 'object' && args[0] !== null && args[0].port === 3000) args[0] = { ...args[0], port: 0 }
  if (args[0] === 3000) args[0] = 0
  this.once('listening', () => listening.push(this.address()))
  return listen.apply(this, args)
}
try {
  await import(process.argv[2])
  console.log('@@docs ' + JSON.stringify({ ready: true, listening }))
} catch (err) {
  console.log('@@docs ' + JSON.stringify({ ready: false, error: String(err && err.stack), code: err && err.code }))
  process.exit(1)
}
`

interface Started {
  child: ChildProcess
  base: string
  output: () => string
}

async function start (t: { teardown: (fn: () => unknown) => void }, block: Block, env: Record<string, string>): Promise<Started> {
  const js = block.lang === 'ts'
    ? ts.transpileModule(block.code, { compilerOptions: { module: ts.ModuleKind.ESNext, target: ts.ScriptTarget.ES2022 } }).outputText
    : block.code
  const file = join(work, `${slug(block)}.mjs`)
  writeFileSync(file, js)
  const { NODE_V8_COVERAGE: _coverage, ...inherited } = process.env
  const child = spawn(process.execPath, [join(work, 'runner.mjs'), file], { cwd: work, env: { ...inherited, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
  let output = ''
  child.stdout.on('data', chunk => { output += chunk })
  child.stderr.on('data', chunk => { output += chunk })
  t.teardown(() => new Promise<void>(resolve => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once('exit', () => resolve())
    child.kill('SIGTERM')
  }))
  const report = await new Promise<{ ready: boolean, listening?: Array<{ port: number }>, error?: string }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${where(block)}: not ready after 30 s:\n${output}`)), 30_000)
    const check = (): void => {
      const line = output.split('\n').find(line => line.startsWith('@@docs '))
      if (line !== undefined) { clearTimeout(timer); resolve(JSON.parse(line.slice(7))) }
    }
    child.stdout.on('data', check)
    child.once('exit', () => { check(); clearTimeout(timer); reject(new Error(`${where(block)}: exited before its top level ran:\n${output}`)) })
  })
  if (!report.ready) throw new Error(`${where(block)}: ${report.error}\n${output}`)
  const port = report.listening?.[0]?.port
  return { child, base: `http://localhost:${port}`, output: () => output }
}

/** A client that keeps cookies as a browser does: a `Secure` cookie set over http is not kept (it never comes back). */
class Browser {
  readonly cookies = new Map<string, string>()
  readonly refused: string[] = []
  constructor (readonly base: string) {}

  async request (method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number, json: any, text: string }> {
    const form = headers['content-type'] === 'application/x-www-form-urlencoded'
    const response = await fetch(this.base + path, {
      method,
      headers: {
        ...(body === undefined || form ? {} : { 'content-type': 'application/json' }),
        ...(this.cookies.size > 0 ? { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') } : {}),
        ...headers
      },
      body: body === undefined ? undefined : form ? new URLSearchParams(body as Record<string, string>).toString() : JSON.stringify(body),
      redirect: 'manual'
    })
    for (const cookie of response.headers.getSetCookie()) {
      const [pair = '', ...attributes] = cookie.split(';').map(part => part.trim())
      const name = pair.slice(0, pair.indexOf('='))
      const lower = attributes.map(attribute => attribute.toLowerCase())
      if (lower.includes('secure') && this.base.startsWith('http:')) {
        this.refused.push(name)
      } else if (lower.some(attribute => attribute === 'max-age=0' ||
          (attribute.startsWith('expires=') && Date.parse(attribute.slice(8)) <= Date.now()))) {
        this.cookies.delete(name)
      } else {
        this.cookies.set(name, pair.slice(name.length + 1))
      }
    }
    const text = await response.text()
    let json: unknown
    try { json = JSON.parse(text) } catch { json = undefined }
    return { status: response.status, json, text }
  }
}

type Scenario = (t: Test, started: Started) => Promise<void>

/** The log lines a program wrote (pino's JSON on stdout). */
function logsOf (started: Started): Array<{ level: number, msg?: string, req?: { url?: string } }> {
  return started.output().split('\n').filter(line => line.startsWith('{')).map(line => JSON.parse(line))
}

async function sessionLogin (t: Test, started: Started): Promise<void> {
  const browser = new Browser(started.base)
  t.equal((await browser.request('GET', '/me')).status, 401, 'anonymous at first')
  t.equal((await browser.request('POST', '/login', { ...USER, password: 'wrong' })).status, 401, 'a wrong password is 401')
  const login = await browser.request('POST', '/login', USER)
  t.equal(login.status, 200, `login: ${login.text}`)
  t.same(browser.refused, [], 'no Secure cookie over http, which the browser would drop')
  t.ok(browser.cookies.size > 0, 'the session cookie is kept')
  const me = await browser.request('GET', '/me')
  t.equal(me.status, 200, `GET /me after login: ${me.text}`)
  t.equal(me.json?.email, USER.username, 'the logged-in user')
  t.notOk(JSON.stringify(me.json).includes('$argon2'), 'no password hash in the answer')
  t.equal((await browser.request('POST', '/logout')).status, 200, 'logout')
  t.equal((await browser.request('GET', '/me')).status, 401, 'anonymous after logout')
  const warnings = logsOf(started).filter(log => log.level >= 40)
  t.same(warnings, [], 'no warning or error logged')
}

async function jwtLogin (t: Test, started: Started): Promise<string> {
  const client = new Browser(started.base)
  t.equal((await client.request('POST', '/token', { ...USER, password: 'wrong' })).status, 401, 'a wrong password is 401')
  const issued = await client.request('POST', '/token', USER)
  t.equal(issued.status, 200, `POST /token: ${issued.text}`)
  const token = issued.json?.token as string
  t.match(token, /^[\w-]+\.[\w-]+\.[\w-]+$/, 'a token')
  const me = await client.request('GET', '/me', undefined, { authorization: `Bearer ${token}` })
  t.equal(me.status, 200, `GET /me with the token: ${me.text}`)
  t.equal(me.json?.email, USER.username)
  t.notOk(JSON.stringify(me.json).includes('$argon2'), 'no password hash in the answer')
  t.equal((await client.request('GET', '/me')).status, 401, 'anonymous without it')
  return token
}

const scenarios: Record<string, Scenario> = {
  /** The quick start: a login on http://localhost, with a logger on, and credentials that are not coerced. */
  async 'quick-start' (t, started) {
    await sessionLogin(t, started)
    const coerced = await new Browser(started.base).request('POST', '/login', { username: [USER.username], password: USER.password })
    t.equal(coerced.status, 400, 'an array is not coerced into a username')
    t.ok(logsOf(started).some(log => /Server listening/.test(log.msg ?? '')), 'a logger is on')
  },
  'session-login': sessionLogin,
  /** A program that logs its requests and ran a password reset: no reset token in any logged URL. */
  async 'reset-link' (t, started) {
    const urls = logsOf(started).flatMap(log => log.req?.url ?? [])
    t.ok(urls.includes('/reset-password'), 'the request log records every URL')
    t.same(urls.filter(url => /token/i.test(url)), [], 'and no reset token in any')
  },
  async 'jwt-login' (t, started) { await jwtLogin(t, started) },
  /** A token logged out is refused from then on. */
  async 'jwt-revocation' (t, started) {
    const token = await jwtLogin(t, started)
    const client = new Browser(started.base)
    const bearer = { authorization: `Bearer ${token}` }
    const logout = await client.request('POST', '/logout', undefined, bearer)
    t.ok(logout.status >= 200 && logout.status < 300, `POST /logout: ${logout.status} ${logout.text}`)
    t.equal((await client.request('GET', '/me', undefined, bearer)).status, 401, 'the token is revoked')
  },
  /** The CSRF recipe on http://localhost: a form post with the token logs in; a post without one is refused. */
  async 'csrf-form' (t, started) {
    const form = { 'content-type': 'application/x-www-form-urlencoded' }
    const forged = new Browser(started.base)
    await forged.request('GET', '/login')
    t.equal((await forged.request('POST', '/login', USER, form)).status, 403, 'a post without the token is 403')
    const browser = new Browser(started.base)
    const page = await browser.request('GET', '/login')
    t.equal(page.status, 200)
    t.same(browser.refused, [], 'no Secure cookie over http')
    const login = await browser.request('POST', '/login', { ...USER, _csrf: page.json?.csrfToken }, form)
    t.equal(login.status, 200, `a form post with the token logs in: ${login.text}`)
    t.type(login.json?.csrfToken, 'string', 'and gets a new token')
    t.not(login.json?.csrfToken, page.json?.csrfToken)
  },
  /** Sessions for the browser and tokens for API clients, on the same routes. */
  async 'both-backends' (t, started) {
    await sessionLogin(t, started)
    const token = await jwtLogin(t, started)
    const client = new Browser(started.base)
    const bearer = { authorization: `Bearer ${token}` }
    t.equal((await client.request('POST', '/logout', undefined, bearer)).status, 200, 'the API client logs out')
  }
}

const run = blocks.filter(block => isCode(block) && !isFragment(block) && testedBy(block) === undefined)
// Each program is a process of its own that mostly waits (for Node to load it, for argon2, for HTTP): two at once.
t.test('the programs run as written', { jobs: 2 }, async t => {
  writeFileSync(join(work, 'runner.mjs'), RUNNER)
  for (const block of run) runsAsWritten(t, block)
})

function runsAsWritten (t: Test, block: Block): void {
  const needsRedis = block.code.includes('REDIS_URL')
  const skip = !built ? 'run `npm run build` first' : needsRedis && redisSkipReason()
  t.test(`${where(block)} runs as written${scenarioOf(block) ? ` (${scenarioOf(block)})` : ''}`, { skip }, async t => {
    const env: Record<string, string> = {
      SESSION_SECRET: randomBytes(32).toString('base64url'),
      JWT_SECRET: randomBytes(32).toString('base64url')
    }
    if (needsRedis) env.REDIS_URL = await redisFor()
    const started = await start(t, block, env)
    const name = scenarioOf(block)
    if (name === undefined) return t.pass('its top level ran')
    const scenario = scenarios[name]
    if (scenario === undefined) return t.fail(`no scenario named ${name}`)
    await scenario(t, started)
  })
}
