'use strict'
// Reads the output of `npm test` and prints one line, "N passed, N failed", counting tap's and tstyche's tests.
const fs = require('node:fs')

const [, , logFile, status] = process.argv
// The reporters draw with escape sequences (colours, cursor moves, line erases) even without colour: drop them all.
// eslint-disable-next-line no-control-regex
const log = fs.readFileSync(logFile, 'utf8').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '').replace(/\r/g, '\n')
let passed = 0
let failed = 0

// tstyche: "Tests:      1 failed, 28 passed, 29 total"
for (const line of log.match(/^Tests:.*$/gm) ?? []) {
  passed += Number(line.match(/(\d+) passed/)?.[1] ?? 0)
  failed += Number(line.match(/(\d+) failed/)?.[1] ?? 0)
}
// tap: "# { total: 30, pass: 29, fail: 1 }", which every reporter prints after its own summary (the last one is
// the run's; the base reporter may print it more than once as it redraws)
const tap = log.match(/^\s*# \{ total: \d+.*\}\s*$/gm)
if (tap) {
  const summary = tap[tap.length - 1]
  passed += Number(summary.match(/pass: (\d+)/)?.[1] ?? 0)
  failed += Number(summary.match(/fail: (\d+)/)?.[1] ?? 0)
}
// A failing step that ran no counted test (build, lint, coverage) is still a failure.
if (status !== '0' && failed === 0) failed = 1
console.log(`${passed} passed, ${failed} failed`)
