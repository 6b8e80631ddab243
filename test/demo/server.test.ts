import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { createClient } from 'redis'
import { DEMO_SERVER, startDemo } from './process'
import { redisFor, redisSkipReason } from '../redis/server'

// examples/demo/server.js as `npm run demo` runs it: its environment variables, its output, its Redis sessions.

/** A browser's part of a form sign-in over real HTTP: the session cookie and the page's CSRF token. */
async function signIn (url: string): Promise<string> {
  const home = await fetch(`${url}/`)
  const cookie = (home.headers.getSetCookie()[0] ?? '').split(';')[0] as string
  const token = /name="_csrf" value="([^"]+)"/.exec(await home.text())?.[1] ?? ''
  const login = await fetch(`${url}/login`, {
    method: 'POST',
    redirect: 'manual',
    headers: { cookie },
    body: new URLSearchParams({ _csrf: token, username: 'demo@example.com', password: 'correct horse battery staple' })
  })
  if (login.status !== 303) throw new Error(`sign-in failed: ${login.status}`)
  return (login.headers.getSetCookie()[0] ?? '').split(';')[0] as string
}

async function signedInAs (url: string, cookie: string): Promise<string | undefined> {
  const page = await (await fetch(`${url}/`, { headers: { cookie } })).text()
  return /<p id="status">Signed in as ([^<]+)<\/p>/.exec(page)?.[1]
}

t.test('the demo prints its address and credentials, serves the page, and stops cleanly on SIGTERM', async t => {
  const demo = await startDemo(t)
  t.match(demo.url, /^http:\/\/127\.0\.0\.1:\d+$/)
  t.match(demo.output(), 'Sessions: in memory')
  t.match(demo.output(), 'Sign in as demo@example.com, password "correct horse battery staple"')
  t.equal(await signedInAs(demo.url, await signIn(demo.url)), 'demo@example.com')

  demo.child.kill('SIGTERM')
  const [code] = await once(demo.child, 'exit')
  t.equal(code, 0)
})

t.test('TRUST_PROXY serves the demo over https behind that proxy, with a Secure __Host- session cookie', async t => {
  const demo = await startDemo(t, { TRUST_PROXY: '127.0.0.1' })
  const [cookie = ''] = (await fetch(`${demo.url}/`, { headers: { 'x-forwarded-proto': 'https' } })).headers.getSetCookie()
  t.match(cookie, /^__Host-sid=/)
  t.match(cookie, /; Secure/)
  t.match(cookie, /; Path=\//)
  t.notMatch(cookie, /Domain=/i)
})

t.test('a demo that cannot listen says why and exits 1', async t => {
  // 192.0.2.1 is a documentation address that no machine has: the default port 3000 is never bound.
  const { PORT: _port, ...env } = process.env
  const child = spawn(process.execPath, [DEMO_SERVER], { env: { ...env, HOST: '192.0.2.1' }, stdio: 'pipe' })
  let output = ''
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => { output += chunk })
  const [code] = await once(child, 'exit')
  t.equal(code, 1)
  t.match(output, /EADDRNOTAVAIL.*192\.0\.2\.1:3000/)
})

t.test('REDIS_URL keeps the sessions in Redis', { skip: redisSkipReason() }, async t => {
  const redisUrl = await redisFor()
  const demo = await startDemo(t, { REDIS_URL: redisUrl })
  t.match(demo.output(), 'Sessions: Redis')
  const cookie = await signIn(demo.url)
  t.equal(await signedInAs(demo.url, cookie), 'demo@example.com')

  const redis = createClient({ url: redisUrl })
  await redis.connect()
  t.teardown(() => redis.close())
  const sessionKey = `demo-sess:${decodeURIComponent(cookie.split('=')[1] as string).split('.')[0]}`
  const session = JSON.parse(await redis.get(sessionKey) ?? 'null')
  t.equal(session?._auth_user_id, 1, 'the session is in Redis')
  const recordKey = `demo-sess:auth-login:${decodeURIComponent(cookie.split('=')[1] as string).split('.')[0]}`
  t.ok(await redis.exists(recordKey), 'and so is its login record')

  // Only this session's keys: REDIS_URL may name a Redis that others use.
  await redis.del([sessionKey, recordKey])
  t.equal(await signedInAs(demo.url, cookie), undefined, 'without them in Redis, the demo knows the session no more')

  demo.child.kill('SIGTERM')
  t.equal((await once(demo.child, 'exit'))[0], 0, 'the demo closes its Redis client and exits cleanly')
})
