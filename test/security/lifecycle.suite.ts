// The security suite, part three: renewals, refresh tokens, "sign out everywhere" and password checks, attacked in
// every setup the docs present (JWT with and without a login store, sessions on the MemoryStore and on other stores).
import './renewals.test'
import './token-lifecycle.test'
import './password-checks.test'
import './registrations-index.test'
import './store-seams.test'
