import t from 'tap'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import { refreshMatrix } from '../refresh/matrix'
import { connectClient, testPrefix } from './app'
import { redisFor, redisSkipReason } from './server'

const skip = redisSkipReason()
let url = ''
if (skip === false) t.before(async () => { url = await redisFor() })

// Two app instances, each with its own Redis client, over one Redis: what one refreshes or ends, the other sees.
t.test('on Redis, two instances', { skip }, async t => {
  refreshMatrix(t, {
    stores: async (t) => {
      const prefix = testPrefix()
      const [{ client: one }, { client: two }] = await Promise.all([connectClient(t, url), connectClient(t, url)])
      return [createRedisLoginStore(one, { prefix }), createRedisLoginStore(two, { prefix })]
    }
  })
})
