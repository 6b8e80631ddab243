import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium, type Page } from 'playwright-core'
import { startDemo } from './process'
import { CHROMIUM, skip, submit, USERNAME } from './browser'

// The demo's password paths in Debian's Chromium: change the password while signed in, then forget it, follow the
// mailed link from the outbox page, set a new one and sign in with it; the old password and the old link are dead.

const FIRST = 'correct horse battery staple'
const SECOND = 'a second, changed passphrase'
const THIRD = 'a third passphrase, from the link'

async function signIn (page: Page, url: string, password: string): Promise<number> {
  await page.goto(url)
  await page.fill('#sign-in input[name=username]', USERNAME)
  await page.fill('#sign-in input[name=password]', password)
  return (await submit(page, '#sign-in button[type=submit]')).status()
}

t.test('a visitor changes, forgets and resets the demo password in Chromium', { skip }, async t => {
  const demo = await startDemo(t)
  const userDataDir = mkdtempSync(join(tmpdir(), 'demo-chromium-'))
  t.teardown(() => rmSync(userDataDir, { recursive: true, force: true }))
  const browser = await chromium.launchPersistentContext(userDataDir, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: [
      '--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'
    ]
  })
  t.teardown(() => browser.close())
  const page = browser.pages()[0] ?? await browser.newPage()
  const problems: string[] = []
  page.on('console', message => {
    // Chromium logs every error status it loads: the expected 401s and 400s of this test too.
    if (message.type() === 'error' && !/status of 40[01]/.test(message.text())) problems.push(message.text())
  })
  page.on('pageerror', error => problems.push(error.message))

  // Change password, signed in.
  t.equal(await signIn(page, demo.url, FIRST), 303)
  await page.click('#change-password-link')
  t.equal(await page.locator('#change-password').count(), 1, 'the change-password form')
  await page.fill('#current', 'not the password')
  await page.fill('#next', SECOND)
  t.equal((await submit(page, '#change-password button[type=submit]')).status(), 401, 'a wrong current password is refused')
  t.equal(await page.locator('[role=alert]').innerText(), 'Your current password is not that.')
  await page.fill('#current', FIRST)
  await page.fill('#next', SECOND)
  t.equal((await submit(page, '#change-password button[type=submit]')).status(), 303)
  t.equal(await page.locator('#notice').innerText(), 'Your password was changed. Every other session was signed out.')
  t.equal(await page.locator('#status').innerText(), `Signed in as ${USERNAME}`, 'still signed in')
  await page.reload()
  t.equal(await page.locator('#status').innerText(), `Signed in as ${USERNAME}`, 'and after a reload')
  await submit(page, '#sign-out button[type=submit]')

  t.equal(await signIn(page, demo.url, FIRST), 401, 'the old password no longer signs in')
  t.equal(await signIn(page, demo.url, SECOND), 303, 'the new one does')
  await submit(page, '#sign-out button[type=submit]')

  // Forgot password: the link goes to the outbox, the visitor follows it.
  await page.click('#forgot-link')
  await page.fill('#forgot input[name=username]', USERNAME)
  t.equal((await submit(page, '#forgot button[type=submit]')).status(), 200)
  t.match(await page.locator('#sent').innerText(), /If an account uses that address, a reset link is on its way/)
  await page.click('a[href="/outbox"]')
  let link = page.locator('.reset-link').first()
  for (let i = 0; i < 20 && await link.count() === 0; i++) {
    await page.waitForTimeout(100)
    await page.reload()
    link = page.locator('.reset-link').first()
  }
  const href = await link.getAttribute('href')
  t.match(href, /^\/reset\?token=/, 'the outbox shows the mailed link')
  await link.click()
  await page.waitForLoadState('load')
  t.equal(await page.locator('#reset').count(), 1, 'the link opens the new-password form')
  await page.fill('#reset input[name=password]', THIRD)
  t.equal((await submit(page, '#reset button[type=submit]')).status(), 303)
  t.equal(await page.locator('#notice').innerText(), 'Your password was reset. Sign in with it.')
  t.equal(await page.locator('#sign-in').count(), 1, 'signed out, on the sign-in form')

  t.equal(await signIn(page, demo.url, THIRD), 303, 'the password from the link signs in')
  t.equal(await page.locator('#status').innerText(), `Signed in as ${USERNAME}`)
  await submit(page, '#sign-out button[type=submit]')
  t.equal(await signIn(page, demo.url, SECOND), 401, 'the password before the reset no longer signs in')

  const used = await page.goto(`${demo.url}${href as string}`)
  t.equal(used?.status(), 400, 'the used link is dead')
  t.equal(await page.locator('[role=alert]').innerText(), 'This link is invalid or has expired')

  t.same(problems, [], 'no script errors and no Content-Security-Policy violations')
})
