// Refresh tokens. One process for test/refresh/.
import './memory-store.test'
import './cookie.test'
import './faults.test'
import './recipe.test'
