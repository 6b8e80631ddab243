// Passwords: the hasher, authenticate, change/set/reset, the reset request, user tokens. One process for test/passwords/.
import './hasher.test'
import './authenticate.test'
import './passwords.test'
import './reset-request.test'
import './user-tokens.test'
