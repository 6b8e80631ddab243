import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { chromium } from 'playwright-core'
import { startDemo } from './process'
import { CHROMIUM, skip, submit, USERNAME, PASSWORD } from './browser'

// `npm run demo` driven by a real browser: Debian's Chromium through playwright-core (which downloads no browser).

t.test('a visitor signs in and out of the demo in Chromium', { skip }, async t => {
  const demo = await startDemo(t)
  t.match(demo.output(), `Sign in as ${USERNAME}, password "${PASSWORD}"`, 'the demo prints its credentials')

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
    // Chromium logs every error status it loads, the wrong password's expected 401 too.
    if (message.type() === 'error' && !message.text().includes('status of 401')) problems.push(message.text())
  })
  page.on('pageerror', error => problems.push(error.message))

  const home = await page.goto(demo.url)
  t.equal(home?.status(), 200)
  t.equal(await page.locator('#sign-in').count(), 1, 'signed out: the sign-in form')
  t.equal(await page.evaluate(() => getComputedStyle(document.querySelector('main') as Element).maxWidth), '416px',
    'the stylesheet loads under the page\'s Content-Security-Policy')

  await page.fill('input[name=username]', USERNAME)
  await page.fill('input[name=password]', 'not the password')
  const wrong = await submit(page, '#sign-in button[type=submit]')
  t.equal(wrong.status(), 401, 'a wrong password answers 401')
  t.equal(await page.locator('[role=alert]').innerText(), 'Invalid username or password')
  t.equal(await page.locator('#sign-in').count(), 1, 'and the visitor stays signed out')
  t.equal(await page.locator('#status').count(), 0)

  await page.fill('input[name=password]', PASSWORD)
  const right = await submit(page, '#sign-in button[type=submit]')
  t.equal(right.status(), 303, 'the right password redirects')
  t.equal(page.url(), `${demo.url}/`)
  t.equal(await page.locator('#status').innerText(), `Signed in as ${USERNAME}`)

  const cookies = await browser.cookies(demo.url)
  const session = cookies.find(cookie => cookie.name === 'sessionId')
  t.ok(session, 'the browser holds a session cookie')
  t.equal(session?.httpOnly, true)
  t.equal(session?.sameSite, 'Lax')
  t.notMatch(await page.evaluate(() => document.cookie), /sessionId/, 'which scripts cannot read')

  if (process.env.DEMO_SCREENSHOT !== undefined) await page.screenshot({ path: process.env.DEMO_SCREENSHOT })

  await page.reload()
  t.equal(await page.locator('#status').innerText(), `Signed in as ${USERNAME}`, 'a reload keeps the user')

  await submit(page, '#sign-out button[type=submit]')
  t.equal(await page.locator('#sign-in').count(), 1, 'sign-out returns to the form')
  t.equal(await page.locator('#status').count(), 0)
  await page.reload()
  t.equal(await page.locator('#status').count(), 0, 'and stays signed out after a reload')

  t.same(problems, [], 'no script errors and no Content-Security-Policy violations')
})
