import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

// .ci/run prints one last line, "N passed, N failed", that CI reads; .ci/count.js makes it from the output of
// `npm test`, whose tap run now uses the human `base` reporter. Here a real tap run of a small suite with one
// failing assertion, reported as npm test reports it, is counted.
const root = join(__dirname, '..', '..')
const tapBin = join(root, 'node_modules/tap/dist/esm/run.mjs')
const count = join(root, '.ci/count.js')
const testUnit = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')).scripts['test:unit'] as string

t.test('count.js reads the base reporter\'s summary, and the tap run npm test makes uses that reporter', async t => {
  t.match(testUnit, /--reporter=base/, 'test:unit asks for the base reporter')
  t.match(testUnit, /--no-disable-coverage/, 'and for coverage, which partial runs leave out')

  const dir = mkdtempSync(join(tmpdir(), 'fah-count-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  symlinkSync(join(root, 'node_modules'), join(dir, 'node_modules'), 'junction')
  writeFileSync(join(dir, 'package.json'), JSON.stringify({ name: 'fixture', private: true, tap: { 'disable-coverage': true } }))
  writeFileSync(join(dir, 'a.test.mjs'), "import t from 'tap'\nt.ok(true, 'one')\nt.ok(true, 'two')\n")
  writeFileSync(join(dir, 'b.test.mjs'), "import t from 'tap'\nt.ok(true, 'three')\nt.equal(1, 2, 'four fails')\n")

  const env = { ...process.env, FORCE_COLOR: '0', CI: 'true' } // as .ci/run runs npm test
  delete env.NODE_V8_COVERAGE
  delete env.TAP
  for (const key of Object.keys(env)) if (key.startsWith('TAP_')) delete env[key]
  const run = spawnSync(process.execPath, [tapBin, '--reporter=base', 'a.test.mjs', 'b.test.mjs'], { cwd: dir, env, encoding: 'utf8' })
  t.equal(run.status, 1, 'the suite fails')
  t.notMatch(run.stdout, /^ok \d+ - /m, 'not raw TAP')
  t.ok(run.stdout.split('\n').length < 80, 'a line per file, the failure and the summary: no progress redrawn')
  // What npm test adds around it: tstyche's summary line.
  const log = join(dir, 'npm-test.log')
  writeFileSync(log, `Tests:      1 failed, 28 passed, 29 total\n${run.stdout}${run.stderr}`)
  // Without tap's environment (its coverage still follows the child: count.js is held to 100% like the rest).
  const bare = { PATH: process.env.PATH ?? '' }
  const counted = spawnSync(process.execPath, [count, log, '1'], { env: bare, encoding: 'utf8' })
  t.equal(counted.stdout.trim(), '31 passed, 2 failed', 'tstyche\'s 28 + 1 and tap\'s 3 + 1')

  // Summaries that leave a count out: tstyche without failures or without passes, tap without failures or passes.
  writeFileSync(log, 'Tests:      28 passed, 28 total\nTests:      2 failed, 2 total\n# { total: 3, fail: 3 }\n')
  t.equal(spawnSync(process.execPath, [count, log, '1'], { env: bare, encoding: 'utf8' }).stdout.trim(), '28 passed, 5 failed')
  writeFileSync(log, '# { total: 4, pass: 4 }\n')
  t.equal(spawnSync(process.execPath, [count, log, '0'], { env: bare, encoding: 'utf8' }).stdout.trim(), '4 passed, 0 failed')

  writeFileSync(log, 'error TS2304: a build that failed before any test ran\n')
  t.equal(spawnSync(process.execPath, [count, log, '2'], { env: bare, encoding: 'utf8' }).stdout.trim(), '0 passed, 1 failed', 'a failing step without tests')
})
