// The package as it is published and installed, and the suite's own layout and CI count. One process; the docs are docs.suite.ts.
import './layout.test'
import './argon2-install.test'
import './exports.test'
import './ci-count.test'
import './pack.test'
