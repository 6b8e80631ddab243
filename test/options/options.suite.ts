// The options pass: one process for test/options/.
import './options.test'
import './registration-errors.test'
import './registrations.test'
import './unknown-keys.test'
