import t from 'tap'
import { availableParallelism } from 'node:os'
import { Gate, PasswordHasher, argon2Concurrency } from '../lib/password'
import { TEST_HASH_OPTIONS, build, hashOf } from './helper'
import { spyOnVerify } from './argon2-spy'

function deferred (): { promise: Promise<void>, resolve: () => void, reject: (error: Error) => void } {
  let resolve!: () => void
  let reject!: (error: Error) => void
  const promise = new Promise<void>((_resolve, _reject) => { resolve = _resolve; reject = _reject })
  return { promise, resolve, reject }
}

const tick = (): Promise<void> => new Promise(resolve => setImmediate(resolve))

t.test('argon2 runs as many calls at once as the cores fit, and at least one', async t => {
  t.equal(argon2Concurrency(4, 2), 1)
  t.equal(argon2Concurrency(4, 7), 1)
  t.equal(argon2Concurrency(4, 16), 4)
  t.equal(argon2Concurrency(1, 2), 2)
  t.equal(argon2Concurrency(8, 1), 1)
  t.equal(argon2Concurrency(undefined, 8), 2, "argon2's default parallelism is 4")
  t.equal(argon2Concurrency(1), availableParallelism())
  t.equal(new PasswordHasher({}).concurrency, argon2Concurrency(4))
  t.equal(new PasswordHasher({ parallelism: 1 }).concurrency, availableParallelism())
})

t.test('the gate runs at most `limit` tasks at once, in the order they came', async t => {
  const gate = new Gate(2)
  const tasks = Array.from({ length: 5 }, () => deferred())
  const started: number[] = []
  let running = 0
  let most = 0
  const results = tasks.map((task, i) => gate.run(async () => {
    started.push(i)
    most = Math.max(most, ++running)
    try {
      await task.promise
      return i
    } finally {
      running--
    }
  }))
  const allSettled = Promise.allSettled(results)
  await tick()
  t.same(started, [0, 1], 'two start, three wait')
  tasks[1]!.resolve()
  await tick()
  t.same(started, [0, 1, 2], 'a finished task hands its slot to the first in line')
  tasks[0]!.reject(new Error('argon2 failed'))
  await tick()
  t.same(started, [0, 1, 2, 3], 'a failed task frees its slot too')
  tasks[2]!.resolve()
  tasks[3]!.resolve()
  tasks[4]!.resolve()
  const settled = await allSettled
  t.same(started, [0, 1, 2, 3, 4])
  t.equal(most, 2)
  t.same(settled.map(r => r.status), ['rejected', 'fulfilled', 'fulfilled', 'fulfilled', 'fulfilled'])
  t.same(settled.slice(1).map(r => (r as PromiseFulfilledResult<number>).value), [1, 2, 3, 4])
  // Once idle, the gate admits new work at once again.
  t.equal(await gate.run(async () => 'again'), 'again')
})

t.test('queued verifies each get their own answer', async t => {
  const hasher = new PasswordHasher(TEST_HASH_OPTIONS, 1)
  const right = await hashOf('right')
  const checks = ['right', 'wrong', 'right', 'nope', 'right', 'right ']
  const answers = await Promise.all(checks.map(password => hasher.verify(right, password)))
  t.same(answers, [true, false, true, false, true, false])
  const [a, b] = await Promise.all([hasher.hash('one'), hasher.hash('two')])
  t.same(await Promise.all([hasher.verify(a, 'one'), hasher.verify(b, 'two'), hasher.verify(a, 'two')]), [true, true, false])
})

t.test('eight logins at once all succeed through the queue', async t => {
  const { app, users } = await build(t)
  const password = await hashOf('pw')
  for (let id = 1; id <= 8; id++) users.add({ id, username: `user${id}`, password })
  const responses = await Promise.all(Array.from({ length: 8 }, (_, i) =>
    app.inject({ method: 'POST', url: '/login', payload: { username: `user${i + 1}`, password: i === 3 ? 'bad' : 'pw' } })))
  t.same(responses.map(r => r.statusCode), [200, 200, 200, 401, 200, 200, 200, 200])
  t.same(responses.filter(r => r.statusCode === 200).map(r => r.json().id), [1, 2, 3, 5, 6, 7, 8])
})

t.test('a hash argon2 refuses takes one turn in the queue, like any other check, not a second one for its dummy verify', async t => {
  const hasher = new PasswordHasher(TEST_HASH_OPTIONS, 1)
  const dummy = await hasher.dummyHash()
  const right = await hashOf('right')
  const refused = `$argon2id$v=19$m=4294967295,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$${'A'.repeat(43)}`
  const calls = spyOnVerify(t)
  // Both enter the queue in the same tick; the first holds the one slot while the second waits.
  const answers = await Promise.all([hasher.verify(refused, 'x'), hasher.verify(right, 'right')])
  t.same(answers, [false, true])
  t.same(calls.map(call => call.digest), [refused, dummy, right],
    'the refused hash is followed by its dummy verify in the same turn, before the check that queued behind it')
})
