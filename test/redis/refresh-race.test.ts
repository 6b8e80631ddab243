import t from 'tap'
import { createRedisLoginStore } from '../../lib/login-store/redis'
import { raceOneToken } from '../refresh/race'
import { connectClient, testPrefix } from './app'
import { redisFor, redisSkipReason } from './server'

const skip = redisSkipReason()

t.test('two concurrent refreshes with one token on two instances over Redis, every ordering: exactly one wins', { skip }, async t => {
  const url = await redisFor()
  const prefix = testPrefix()
  const [{ client: one }, { client: two }] = await Promise.all([connectClient(t, url), connectClient(t, url)])
  await raceOneToken(t, [createRedisLoginStore(one, { prefix }), createRedisLoginStore(two, { prefix })])
})
