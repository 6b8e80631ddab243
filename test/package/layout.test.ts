import t from 'tap'
import { readdirSync, readFileSync } from 'node:fs'
import { basename, dirname, join, relative } from 'node:path'

// tap runs the `*.suite.ts` files, one process each (package.json's tap.include): each imports the test files of its
// folder, so the suite pays for starting Node, the TypeScript loader and the plugin's modules once per subject
// instead of once per file. A test file no suite imports would never run: these checks keep every one in a suite.
const root = join(__dirname, '..', '..')
const tests = join(root, 'test')

function filesUnder (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(entry =>
    entry.isDirectory() ? filesUnder(join(dir, entry.name)) : [join(dir, entry.name)])
}

const files = filesUnder(tests).map(file => relative(root, file))
const suites = files.filter(file => file.endsWith('.suite.ts'))
const testFiles = files.filter(file => file.endsWith('.test.ts'))
/** The test files a suite imports, as paths from the repository's root. */
const importedBy = (suite: string): string[] =>
  [...readFileSync(join(root, suite), 'utf8').matchAll(/^import '(\.\/[^']+)'$/gm)].map(([, spec]) => join(dirname(suite), `${spec as string}.ts`))

t.test('tap runs the suites, and every test file is imported by exactly one suite of its own folder', async t => {
  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'))
  t.same(manifest.tap.include, ['test/**/*.suite.ts'], 'tap runs the suites only')
  t.ok(suites.length >= 10, `${suites.length} suites`)
  const imported = suites.flatMap(importedBy)
  for (const file of imported) t.ok(testFiles.includes(file), `${file}, which a suite imports, exists`)
  for (const file of testFiles) {
    const by = suites.filter(suite => importedBy(suite).includes(file))
    t.equal(by.length, 1, `${file} is in one suite`)
    t.ok(by.every(suite => dirname(suite) === dirname(file)), `${file}: its suite is in its folder`)
  }
})

t.test('test files are named for their subject', async t => {
  for (const file of [...testFiles, ...suites]) t.notMatch(basename(file), /^review-/, `${file}: a subject, not a review`)
  t.same(files.filter(file => dirname(file) === 'test' && file.endsWith('.ts')), ['test/helper.ts'], 'only the shared app helper is at the top of test/')
})
