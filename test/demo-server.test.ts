import t from 'tap'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { existsSync } from 'node:fs'
import { createServer } from 'node:net'
import { createClient } from 'redis'
import { DEMO_SERVER, startDemo } from './demo-process'

// examples/demo/server.js as `npm run demo` runs it: its environment variables, its output, its Redis sessions.

const REDIS_SERVER = '/usr/bin/redis-server'

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

async function freePort (): Promise<number> {
  const server = createServer().listen(0, '127.0.0.1')
  await once(server, 'listening')
  const { port } = server.address() as { port: number }
  server.close()
  await once(server, 'close')
  return port
}

t.test('REDIS_URL keeps the sessions in Redis', {
  skip: existsSync(REDIS_SERVER) ? false : `${REDIS_SERVER} is not installed (apt-get install redis-server)`
}, async t => {
  const port = await freePort()
  const redisServer = spawn(REDIS_SERVER, ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'])
  t.teardown(async () => {
    redisServer.kill('SIGTERM')
    if (redisServer.exitCode === null) await once(redisServer, 'exit')
  })
  let log = ''
  redisServer.stdout.setEncoding('utf8')
  for await (const chunk of redisServer.stdout) {
    log += chunk
    if (log.includes('Ready to accept connections')) break
  }
  const redisUrl = `redis://127.0.0.1:${port}`
  const demo = await startDemo(t, { REDIS_URL: redisUrl })
  t.match(demo.output(), 'Sessions: Redis')
  const cookie = await signIn(demo.url)
  t.equal(await signedInAs(demo.url, cookie), 'demo@example.com')

  const redis = createClient({ url: redisUrl })
  await redis.connect()
  t.teardown(() => redis.close())
  const sessionId = decodeURIComponent(cookie.split('=')[1] as string).split('.')[0] as string
  t.ok(await redis.get(`demo-sess:${sessionId}`), 'the session is in Redis')
  t.equal((await redis.keys('demo-sess:auth-login:*')).length, 1, 'and so is its login record')

  await redis.flushAll()
  t.equal(await signedInAs(demo.url, cookie), undefined, 'with Redis emptied, the demo knows the session no more')

  demo.child.kill('SIGTERM')
  t.equal((await once(demo.child, 'exit'))[0], 0, 'the demo closes its Redis client and exits cleanly')
})
