import t from 'tap'
import { availableParallelism } from 'node:os'
import { Gate, PasswordHasher, argon2Concurrency } from '../../lib/passwords/hasher'
import { TEST_HASH_OPTIONS, build, hashOf } from '../helper'
import { spyOnVerify } from '../helper'

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
  t.equal(new PasswordHasher({}, { maxQueued: 1 }).concurrency, argon2Concurrency(4))
  t.equal(new PasswordHasher({ parallelism: 1 }, { maxQueued: 1 }).concurrency, availableParallelism())
})

t.test('the gate runs at most `limit` tasks at once, in the order they came', async t => {
  // Two run, three wait: exactly as many as may.
  const gate = new Gate(2, 3)
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
  const hasher = new PasswordHasher(TEST_HASH_OPTIONS, { concurrency: 1, maxQueued: 10 })
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
  const hasher = new PasswordHasher(TEST_HASH_OPTIONS, { concurrency: 1, maxQueued: 10 })
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

t.test('past `maxQueued` waiting tasks, the gate refuses at once with FST_AUTH_BUSY and never runs the task', async t => {
  const gate = new Gate(1, 2)
  const tasks = Array.from({ length: 4 }, () => deferred())
  const started: string[] = []
  const run = (name: string, task: { promise: Promise<void> }) => gate.run(async () => {
    started.push(name)
    await task.promise
    return name
  })
  const admitted = [run('a', tasks[0]!), run('b', tasks[1]!), run('c', tasks[2]!)]
  t.equal(gate.queued, 2)
  t.equal(gate.full, true)
  let refusedRan = false
  const refused = gate.run(async () => { refusedRan = true })
  await t.rejects(refused, { code: 'FST_AUTH_BUSY', statusCode: 503, message: 'The server is busy hashing passwords: try again later' },
    'refused while the task in the slot has not finished: nothing had to end first')
  t.same(started, ['a'])

  tasks[0]!.resolve()
  await tick()
  t.same(started, ['a', 'b'], 'the finished task handed its slot to the first in line')
  t.equal(gate.queued, 1)
  t.equal(gate.full, false, 'which made room for one more')
  const late = run('d', tasks[3]!)
  t.equal(gate.full, true)
  await t.rejects(gate.run(async () => { refusedRan = true }), { code: 'FST_AUTH_BUSY' })

  tasks[1]!.resolve()
  tasks[2]!.resolve()
  tasks[3]!.resolve()
  t.same(await Promise.all([...admitted, late]), ['a', 'b', 'c', 'd'])
  t.same(started, ['a', 'b', 'c', 'd'], 'first come, first served; the newcomer waited behind the queue')
  t.equal(refusedRan, false, 'no refused task ever ran')
  t.equal(gate.queued, 0)
  t.equal(gate.full, false)
  t.equal(await gate.run(async () => 'drained'), 'drained', 'an idle gate runs a task at once')
})

t.test('the bound counts waiting tasks only: `limit` run at once whatever `maxQueued` is', async t => {
  const gate = new Gate(2, 1)
  const hold = deferred()
  let running = 0
  const task = async () => {
    running++
    await hold.promise
  }
  const admitted = [gate.run(task), gate.run(task)]
  t.equal(running, 2, 'both slots taken, nothing waits')
  t.equal(gate.full, false)
  admitted.push(gate.run(task))
  t.equal(gate.full, true)
  await t.rejects(gate.run(task), { code: 'FST_AUTH_BUSY' })
  hold.resolve()
  await Promise.all(admitted)
  t.equal(running, 3)
})

t.test('a full hasher refuses hash and verify alike, before argon2 runs', async t => {
  const hasher = new PasswordHasher(TEST_HASH_OPTIONS, { concurrency: 1, maxQueued: 1 })
  const right = await hashOf('right')
  await hasher.dummyHash()
  const calls = spyOnVerify(t)
  const hashes = [hasher.hash('one'), hasher.hash('two')]
  t.equal(hasher.full, true)
  t.equal(hasher.queued, 1)
  await t.rejects(hasher.hash('three'), { code: 'FST_AUTH_BUSY' })
  await t.rejects(hasher.verify(right, 'right'), { code: 'FST_AUTH_BUSY' }, 'a usable hash is refused')
  await t.rejects(hasher.verify(undefined, 'right'), { code: 'FST_AUTH_BUSY' }, 'and no hash (an unknown user) alike')
  t.equal(calls.length, 0, 'no refused call reached argon2')
  const [one, two] = await Promise.all(hashes)
  t.equal(hasher.queued, 0)
  t.same(await Promise.all([hasher.verify(one, 'one'), hasher.verify(two, 'two')]), [true, true], 'and it works again once drained')
})
