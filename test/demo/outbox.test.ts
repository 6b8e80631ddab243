import t from 'tap'
import { setTimeout as sleep } from 'node:timers/promises'
import { DEMO_CREDENTIALS } from '../../examples/demo/app.js'
import { startDemo } from './process'

// The demo's mail outbox, attacked over real HTTP as `npm run demo` serves it: a visitor sees the mail of the address
// they asked for, in their own browser session, and nobody else's; nor can they learn who else asked, or for what.

/** A browser's part: a cookie jar of its own (no cookie of another client's) and the page's CSRF token. */
class Client {
  readonly cookies = new Map<string, string>()
  constructor (readonly base: string) {}

  async request (path: string, form?: Record<string, string>): Promise<{ status: number, body: string }> {
    const response = await fetch(this.base + path, {
      method: form === undefined ? 'GET' : 'POST',
      redirect: 'manual',
      headers: this.cookies.size === 0 ? {} : { cookie: [...this.cookies].map(([name, value]) => `${name}=${value}`).join('; ') },
      body: form === undefined ? undefined : new URLSearchParams(form)
    })
    for (const cookie of response.headers.getSetCookie()) {
      const pair = cookie.split(';')[0] as string
      this.cookies.set(pair.slice(0, pair.indexOf('=')), pair.slice(pair.indexOf('=') + 1))
    }
    return { status: response.status, body: await response.text() }
  }

  /** The forgot-password form, filled in and sent. */
  async askForReset (username: string): Promise<number> {
    const page = await this.request('/forgot')
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
    return (await this.request('/forgot', { _csrf: token, username })).status
  }

  async signIn (username: string, password: string): Promise<number> {
    const page = await this.request('/')
    const token = /name="_csrf" value="([^"]+)"/.exec(page.body)?.[1] ?? ''
    return (await this.request('/login', { _csrf: token, username, password })).status
  }

  async outbox (): Promise<string> {
    return (await this.request('/outbox')).body
  }
}

const links = (outbox: string): string[] => [...outbox.matchAll(/class="reset-link" href="([^"]+)"/g)].map(match => match[1] as string)

/** The outbox once the mail of a request just made has had time to go out (it is sent after the response). */
async function outboxWithMail (client: Client): Promise<string> {
  for (let i = 0; i < 50; i++) {
    const outbox = await client.outbox()
    if (links(outbox).length > 0) return outbox
    await sleep(20)
  }
  throw new Error('no mail reached the outbox')
}

t.test("another visitor sees neither a visitor's reset link nor which addresses have accounts", async t => {
  const demo = await startDemo(t)
  const victim = new Client(demo.url)
  const attacker = new Client(demo.url)
  const before = await attacker.outbox()
  t.match(before, /id="empty"/, 'nothing to see at first')

  t.equal(await victim.askForReset(DEMO_CREDENTIALS.username), 200)
  const mine = await outboxWithMail(victim)
  t.equal(links(mine).length, 1, 'the visitor who asked sees the link')
  t.match(mine, /To <code>demo@example\.com<\/code>/)
  t.equal(await victim.askForReset('nobody@example.com'), 200)
  await sleep(100)

  const seen = await attacker.outbox()
  t.same(links(seen), [], 'the other client sees no reset link')
  t.notMatch(seen, /example\.com/, 'nor any address asked for')
  t.equal(seen, before, 'its outbox is the same as before anyone asked: nothing tells who has an account')

  // Asking for an address of its own does not open the victim's mail either.
  t.equal(await attacker.askForReset('nobody@example.com'), 200)
  await sleep(100)
  t.same(links(await attacker.outbox()), [], 'the attacker\'s own request shows no link of the victim\'s')
  const link = links(mine)[0] as string
  t.notOk((await attacker.outbox()).includes(link))

  // The visitor's own outbox shows the mail of the address last asked for only: none, for an unknown address.
  t.same(links(await victim.outbox()), [], 'the newest request was for an address with no account: no mail for it')

  // Signed in, the owner of the address reads the mail sent to it, whoever asked for it.
  const owner = new Client(demo.url)
  t.equal(await owner.signIn(DEMO_CREDENTIALS.username, DEMO_CREDENTIALS.password), 303)
  t.same(links(await owner.outbox()), [link], 'the signed-in owner sees the mail to their own address')
})
