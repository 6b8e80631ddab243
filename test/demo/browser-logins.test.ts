import t from 'tap'
import { chromium, type BrowserContext, type Page } from 'playwright-core'
import { startDemo } from './process'
import { CHROMIUM, skip, submit, USERNAME, PASSWORD } from './browser'

// Issue 17 in a real browser: two browser contexts (two devices, each with its own cookies) sign in to `npm run
// demo`; one sees both in its list and signs the other out, which is then signed out at its next page load.

async function signIn (context: BrowserContext, url: string): Promise<Page> {
  const page = await context.newPage()
  await page.goto(url)
  await page.fill('input[name=username]', USERNAME)
  await page.fill('input[name=password]', PASSWORD)
  await submit(page, '#sign-in button[type=submit]')
  return page
}

t.test('one browser signs another out from the list of logins, then everywhere else', { skip }, async t => {
  const demo = await startDemo(t)
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    timeout: 60_000,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking',
      '--disable-component-update', '--disable-sync']
  })
  t.teardown(() => browser.close())
  const laptop = await browser.newContext({ userAgent: 'Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0' })
  const phone = await browser.newContext({
    userAgent: 'Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1'
  })
  const problems: string[] = []

  const onLaptop = await signIn(laptop, demo.url)
  const onPhone = await signIn(phone, demo.url)
  for (const page of [onLaptop, onPhone]) {
    page.on('pageerror', error => problems.push(error.message))
    page.on('console', message => { if (message.type() === 'error' && !message.text().includes('status of 401')) problems.push(message.text()) })
  }
  await onLaptop.reload()
  const rows = onLaptop.locator('#logins li')
  t.equal(await rows.count(), 2, 'the laptop sees both logins')
  t.same(await onLaptop.locator('#logins .device').allInnerTexts(), ['Safari on iOS', 'Firefox on Linux'], 'newest first, named by device')
  t.same(await onLaptop.locator('#logins .address').allInnerTexts(), ['127.0.0.1', '127.0.0.1'])
  t.match(await onLaptop.locator('#logins .seen').first().innerText(), /^Last seen \d{4}-\d\d-\d\d \d\d:\d\d UTC$/)
  t.equal(await onLaptop.locator('#logins li[data-current=true] .current').innerText(), 'This browser')

  // The laptop signs the phone out with the phone's row.
  await submit(onLaptop, '#logins li[data-current=false] button[type=submit]')
  t.equal(await onLaptop.locator('#ended').innerText(), 'Signed out 1 other login.')
  t.equal(await onLaptop.locator('#logins li').count(), 1)
  await onPhone.reload()
  t.equal(await onPhone.locator('#sign-in').count(), 1, 'the phone is signed out at its next page load')
  t.equal(await onPhone.locator('#status').count(), 0)

  // The phone signs in again, twice (a second tab shares the context's cookie: still one login); the laptop ends it.
  const again = await signIn(phone, demo.url)
  const secondTab = await phone.newPage()
  await secondTab.goto(demo.url)
  t.match(await secondTab.locator('#status').innerText(), /Signed in as/, 'a second tab shares the phone\'s login')
  await onLaptop.reload()
  t.equal(await onLaptop.locator('#logins li').count(), 2, 'one login per device, not per tab')
  await submit(onLaptop, '#end-others button[type=submit]')
  t.equal(await onLaptop.locator('#ended').innerText(), 'Signed out 1 other login.')
  for (const page of [again, secondTab]) {
    await page.reload()
    t.equal(await page.locator('#sign-in').count(), 1, 'every tab of the phone is signed out')
  }
  await onLaptop.reload()
  t.match(await onLaptop.locator('#status').innerText(), /Signed in as/, 'the laptop stays signed in')
  t.same(problems, [], 'no script errors and no Content-Security-Policy violations')
})
