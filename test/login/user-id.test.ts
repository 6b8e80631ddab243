import t from 'tap'
import Fastify, { type FastifyInstance } from 'fastify'
import auth from '../../lib/index'
import { SECRET, TEST_HASH_OPTIONS, cookieFrom, hashOf } from '../helper'
import { JWT_SECRET } from '../jwt/helper'

// Ids as databases give them: a bigint column read by Kysely, Prisma or pg with a BigInt parser, and the same id read
// into a plain number, where it is no longer exact (2**53 + 1 is read as 2**53).
const BIG = 2n ** 53n + 1n

interface RowUser { id: bigint | number, email: string, password: string }

/** A user store keyed by the id's decimal text, which is what a string id (the fix) and the database both hold. */
function store (idOf: (id: bigint) => bigint | number, password: string): { users: object, row: RowUser, lookedUp: unknown[] } {
  const row: RowUser = { id: idOf(BIG), email: 'ann@example.com', password }
  const lookedUp: unknown[] = []
  const users = {
    findByUsername: (email: string) => email === row.email ? row : null,
    findById: (id: unknown) => {
      lookedUp.push(id)
      return String(id) === String(row.id) ? row : null
    }
  }
  return { users, row, lookedUp }
}

/**
 * Both backends, and the three ways into a login: POST /login (authenticate, then login({ user })), POST /login-user
 * (login({ user }) with the store's row) and POST /login-id (login({ userId }) with the id as the database gave it).
 */
async function build (t: { teardown: (fn: () => unknown) => void }, fixture: ReturnType<typeof store>, plugin: Record<string, unknown> = {}): Promise<FastifyInstance> {
  const app = Fastify()
  t.teardown(() => app.close())
  await app.register(auth, {
    users: fixture.users,
    session: { secret: SECRET, cookie: { secure: false } },
    jwt: { secret: JWT_SECRET },
    hashOptions: TEST_HASH_OPTIONS,
    ...plugin
  } as never)
  const backendOf = (request: { body: unknown }) => (request.body as { backend: 'session' | 'jwt' }).backend
  app.post('/login', async (request) => {
    const { email, password } = request.body as { email: string, password: string }
    const user = await request.authenticate(email, password)
    const token = await request.login({ user, backend: backendOf(request) })
    return { id: request.getUserId(backendOf(request)), token: token ?? null }
  })
  app.post('/login-user', async (request) => {
    await request.login({ user: fixture.row, backend: backendOf(request) })
    return 'logged in'
  })
  app.post('/login-id', async (request) => {
    await request.login({ userId: fixture.row.id as never, backend: backendOf(request) })
    return 'logged in'
  })
  app.get('/whoami', async (request) => ({ email: (request.user as RowUser | null)?.email ?? null }))
  await app.ready()
  return app
}

const kinds = { bigint: (id: bigint) => id, 'number above 2**53': (id: bigint) => Number(id) }
const credentials = { email: 'ann@example.com', password: 'correct horse' }

for (const [kind, idOf] of Object.entries(kinds)) {
  for (const backend of ['session', 'jwt'] as const) {
    t.test(`a ${kind} id on the ${backend} backend: a 500 naming getUserId after the right password, never a 401`, async t => {
      const fixture = store(idOf, await hashOf(credentials.password))
      const app = await build(t, fixture)
      const wrong = await app.inject({ method: 'POST', url: '/login', payload: { ...credentials, password: 'wrong', backend } })
      t.equal(wrong.statusCode, 401, 'a wrong password is still the 401 it always was')

      for (const url of ['/login', '/login-user']) {
        const response = await app.inject({ method: 'POST', url, payload: { ...credentials, backend } })
        t.equal(response.statusCode, 500, `${url}: the app's setup is at fault, not the password`)
        const body = response.json()
        t.equal(body.code, 'FST_AUTH_INVALID_USER_ID', url)
        t.match(body.message, /`getUserId\(user\)` gave (a bigint|an integer beyond Number\.MAX_SAFE_INTEGER)/, url)
        t.match(body.message, 'getUserId: (user) => String(user.id)', `${url}: the message says how to fix it`)
        t.notMatch(body.message, /invalid username or password/i, url)
        t.equal(cookieFrom(response), undefined, `${url}: no session was logged in`)
      }
    })

    t.test(`login({ userId }) given a ${kind} on the ${backend} backend: a 500 naming the fix, before the store is asked`, async t => {
      const fixture = store(idOf, await hashOf(credentials.password))
      const app = await build(t, fixture)
      const response = await app.inject({ method: 'POST', url: '/login-id', payload: { backend } })
      t.equal(response.statusCode, 500)
      const body = response.json()
      t.equal(body.code, 'FST_AUTH_INVALID_USER_ID')
      t.match(body.message, /`login\(\{ userId \}\)` gave (a bigint|an integer beyond Number\.MAX_SAFE_INTEGER)/)
      t.match(body.message, '`login({ userId: String(id) })`')
      t.same(fixture.lookedUp, [], 'findById was never asked, so never for a rounded id')
    })
  }
}

t.test('with getUserId returning String(user.id), a bigint id logs in and stays logged in on both backends', async t => {
  const fixture = store(id => id, await hashOf('pw'))
  const { lookedUp } = fixture
  const app = await build(t, fixture, { getUserId: (user: RowUser) => String(user.id) })

  const session = await app.inject({ method: 'POST', url: '/login', payload: { email: 'ann@example.com', password: 'pw', backend: 'session' } })
  t.equal(session.statusCode, 200)
  t.same(session.json().id, String(BIG), 'the id is the exact decimal text')
  const cookie = cookieFrom(session)
  t.ok(cookie)
  const me = await app.inject({ url: '/whoami', headers: { cookie: cookie as string } })
  t.same(me.json(), { email: 'ann@example.com' })
  t.equal(lookedUp.at(-1), String(BIG), 'findById gets the string back, exact')

  const jwt = await app.inject({ method: 'POST', url: '/login', payload: { email: 'ann@example.com', password: 'pw', backend: 'jwt' } })
  t.equal(jwt.statusCode, 200)
  const token = jwt.json().token as string
  const claims = JSON.parse(Buffer.from(token.split('.')[1] as string, 'base64url').toString())
  t.equal(claims._auth_user_id, String(BIG), 'the claim is the exact decimal text')
  const bearer = await app.inject({ url: '/whoami', headers: { authorization: `Bearer ${token}` } })
  t.same(bearer.json(), { email: 'ann@example.com' })
})
