// ESM entry: the CommonJS build's exports are assigned at run time, which Node cannot see statically, so they are
// re-exported here by name.
import plugin from './index.js'

export default plugin
export const {
  fastifyAuthHelpers,
  AuthenticationError,
  USER_ID_KEY,
  BACKEND_KEY,
  DEFAULT_AUTH_BACKEND,
  SUPPORTED_BACKENDS,
  authenticate,
  login,
  logout,
  getUserFromSession,
  getUserFromJwt,
  getUserId,
  listLogins,
  endLogin,
  endOtherLogins,
  reauthenticate,
  refresh,
  createRedisLoginStore,
  createMemoryLoginStore,
  requireUser
} = plugin
