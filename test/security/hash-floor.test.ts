// Issue 11, "smaller": `hashOptions` took `memoryCost: 8`, which makes every stored hash cheap to brute-force. The
// plugin refuses cost parameters below OWASP's Password Storage Cheat Sheet table for argon2id, read as a rule: for
// t passes, at least the memory OWASP pairs with t (t=1: 47104 KiB, 2: 19456, 3: 12288, 4: 9216, 5 and more: 7168).
import t from 'tap'
import Fastify from 'fastify'
import auth from '../../lib/index'
import { SECRET, TestUsers } from '../helper'

async function register (t: tap.Test, hashOptions: Record<string, number>): Promise<Error | undefined> {
  const app = Fastify()
  t.teardown(() => app.close())
  app.register(auth, { users: new TestUsers(), session: { secret: SECRET }, hashOptions })
  try {
    await app.ready()
    return undefined
  } catch (err) {
    return err as Error
  }
}

const REFUSED: Array<Record<string, number>> = [
  { memoryCost: 8 },
  { memoryCost: 8, timeCost: 1, parallelism: 1 },
  { memoryCost: 47103, timeCost: 1 },
  { memoryCost: 19455, timeCost: 2 },
  { memoryCost: 12287 },
  { memoryCost: 12287, timeCost: 3 },
  { memoryCost: 9215, timeCost: 4 },
  { memoryCost: 7167, timeCost: 5 },
  { memoryCost: 7167, timeCost: 100 },
  { memoryCost: 4096 },
  { memoryCost: 19456, timeCost: 1 },
  // Lanes split the memory rather than add to it: more of them do not lower the floor.
  { memoryCost: 9215, timeCost: 4, parallelism: 4 }
]

const ACCEPTED: Array<Record<string, number>> = [
  {},
  { memoryCost: 47104, timeCost: 1, parallelism: 1 },
  { memoryCost: 19456, timeCost: 2, parallelism: 1 },
  { memoryCost: 12288, timeCost: 3 },
  { memoryCost: 12288 },
  { memoryCost: 9216, timeCost: 4, parallelism: 1 },
  { memoryCost: 7168, timeCost: 5, parallelism: 1 },
  { memoryCost: 7168, timeCost: 9 },
  { timeCost: 2 },
  { parallelism: 1 }
]

t.test('cost parameters below OWASP\'s argon2id minimum are refused at registration, with a message naming it', async t => {
  for (const hashOptions of REFUSED) {
    const error = await register(t, hashOptions)
    t.equal((error as { code?: string } | undefined)?.code, 'FST_AUTH_INVALID_OPTION', `${JSON.stringify(hashOptions)} refused`)
    t.match(error?.message, /below the argon2id minimum of OWASP's Password Storage Cheat Sheet/, 'names the floor\'s source')
    t.match(error?.message, /memoryCost must be at least \d+ KiB/, 'and what would pass')
  }
  t.match((await register(t, { memoryCost: 8, timeCost: 2 }))?.message, /with timeCost 2, memoryCost must be at least 19456 KiB/)
})

t.test('parameters at or above the floor, and argon2\'s defaults for what is left out, are accepted', async t => {
  for (const hashOptions of ACCEPTED) t.equal(await register(t, hashOptions), undefined, `${JSON.stringify(hashOptions)} accepted`)
})
