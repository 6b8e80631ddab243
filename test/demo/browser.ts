import { existsSync } from 'node:fs'
import type { Page, Response } from 'playwright-core'

// What every browser test shares: Debian's Chromium (playwright-core downloads no browser), and a form submission.

export const CHROMIUM = '/usr/bin/chromium'
export const USERNAME = 'demo@example.com'
export const PASSWORD = 'correct horse battery staple'

/** Why the browser tests cannot run here (a reason for tap's `skip`), or false. */
export const skip = existsSync(CHROMIUM)
  ? false
  : `${CHROMIUM} is not installed: the browser test needs Debian's Chromium (apt-get install chromium)`

/** Clicks a submit button and waits for the POST's response and the page it leads to. */
export async function submit (page: Page, selector: string): Promise<Response> {
  const [response] = await Promise.all([
    page.waitForResponse(response => response.request().method() === 'POST'),
    page.click(selector)
  ])
  await page.waitForLoadState('load')
  return response
}
