// The JWT backend: keys, issuer, verifier, cookie, revocation. One process for test/jwt/.
import './jwt.test'
import './options.test'
import './keys.test'
import './cookie.test'
import './coexistence.test'
import './forged.test'
import './property.test'
import './revocation.test'
