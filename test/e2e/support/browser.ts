/**
 * Chromium for the browser tests: Debian's /usr/bin/chromium through playwright-core (never a downloaded browser),
 * one browser per test file, one context per device. Plus the helpers every test uses: submit a form and land,
 * read the page's headings, and save a screenshot at desktop and phone width.
 */
import { mkdir } from 'node:fs/promises'
import { join } from 'node:path'
import { fileURLToPath } from 'node:url'
import {
  type Browser,
  type BrowserContext,
  type BrowserContextOptions,
  chromium,
  type Locator,
  type Page,
  type Response,
} from 'playwright-core'
import { requireBinary } from '../../support/binaries.ts'

/** User agents that read as "Chrome on Linux" and "Safari on iOS" in "Your devices". */
export const CHROME_ON_LINUX =
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/140.0.0.0 Safari/537.36'
export const SAFARI_ON_IOS =
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/18.5 Mobile/15E148 Safari/604.1'

export const SCREENSHOTS = fileURLToPath(new URL('../../../test-output/screenshots/', import.meta.url))

export function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: requireBinary('chromium', 'chromium'),
    headless: true,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
    timeout: 30_000,
  })
}

export interface Device {
  context: BrowserContext
  page: Page
}

/** A new device: its own cookie jar, one page, short timeouts (a hung step fails fast). */
export async function newDevice(browser: Browser, options: BrowserContextOptions = {}): Promise<Device> {
  const context = await browser.newContext({
    userAgent: CHROME_ON_LINUX,
    viewport: { width: 1280, height: 800 },
    ...options,
  })
  context.setDefaultTimeout(10_000)
  context.setDefaultNavigationTimeout(10_000)
  return { context, page: await context.newPage() }
}

/** Clicks `target` (a submit button or a link) and resolves with the response the navigation ends on. */
export async function land(page: Page, target: Locator): Promise<Response> {
  const [landed] = await Promise.all([
    page.waitForResponse((r) => r.request().isNavigationRequest() && (r.status() < 300 || r.status() >= 400)),
    target.click(),
  ])
  await page.waitForLoadState('domcontentloaded')
  return landed
}

/** The POST a landing page was redirected from, with its status: a form that answered 303. */
export async function redirectedPost(landed: Response): Promise<{ method: string; status: number | undefined }> {
  const post = landed.request().redirectedFrom()
  return { method: post?.method() ?? 'none', status: (await post?.response())?.status() }
}

/** The page's h1. */
export const heading = (page: Page) => page.locator('h1').innerText()

/** The flash message, or null. */
export const flash = async (page: Page) =>
  (await page.locator('.flash').count()) ? page.locator('.flash').innerText() : null

/** A button inside the page's main content (the header has its own "Sign out"). */
export const mainButton = (page: Page, name: string) => page.locator('main').getByRole('button', { name, exact: true })

/** Saves the page as `<name>-desktop.png` (1280 wide) and `<name>-phone.png` (390 wide), whole-page. */
export async function shoot(page: Page, name: string): Promise<void> {
  await mkdir(SCREENSHOTS, { recursive: true })
  const size = page.viewportSize() ?? { width: 1280, height: 800 }
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-desktop.png`), fullPage: true })
  await page.setViewportSize({ width: 390, height: 844 })
  await page.screenshot({ path: join(SCREENSHOTS, `${name}-phone.png`), fullPage: true })
  await page.setViewportSize(size)
}
