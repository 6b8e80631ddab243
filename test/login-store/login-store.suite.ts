// Login records, their lifetimes and the stores that keep them. One process for test/login-store/.
import './contract.test'
import './edges.test'
import './lifetime.test'
import './faults.test'
import './cost.test'
import './cleanup.test'
import './redis.test'
