import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { join } from 'node:path'

// The package as users load it: the built dist/ through package.json's "exports" (npm test builds first).
const root = join(__dirname, '..', '..')
const names = ['AuthenticationError', 'USER_ID_KEY', 'BACKEND_KEY', 'DEFAULT_AUTH_BACKEND', 'SUPPORTED_BACKENDS',
  'authenticate', 'login', 'logout', 'getUserFromSession', 'getUserFromJwt', 'getUserId', 'requireUser', 'refresh', 'createMemoryLoginStore']

function run (args: string[]): unknown {
  return JSON.parse(execFileSync(process.execPath, args, { cwd: root, encoding: 'utf8' }))
}

t.test('the package loads from CommonJS and from ESM with the same exports', { skip: !existsSync(join(root, 'dist/index.js')) && 'run `npm run build` first' }, async t => {
  const probe = (auth: string) => `JSON.stringify({
    plugin: typeof ${auth}, same: ${auth}.default === ${auth}, name: ${auth}[Symbol.for('plugin-meta')].name,
    names: ${JSON.stringify(names)}.filter(n => ${auth}[n] === undefined)
  })`
  const cjs = run(['-e', `const auth = require('fastify-auth-helpers'); console.log(${probe('auth')})`])
  t.same(cjs, { plugin: 'function', same: true, name: 'fastify-auth-helpers', names: [] }, 'require()')
  const esm = run(['--input-type=module', '-e', `
    import auth, * as ns from 'fastify-auth-helpers'
    import { AuthenticationError } from 'fastify-auth-helpers'
    const all = { ...ns, default: auth }
    console.log(JSON.stringify({ plugin: typeof auth, error: typeof AuthenticationError, missing: ${JSON.stringify(names)}.filter(n => all[n] === undefined) }))`])
  t.same(esm, { plugin: 'function', error: 'function', missing: [] }, 'import')
})
