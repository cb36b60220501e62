// The UI in headless Chromium: hydration (proved by clicks that only work once hydrated), the
// theme switch, the time range in the URL, the settings page's live status, and the narrow layout.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage, waitForHydration } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

const session = usePortalAndBrowser();

test('the start page hydrates and the theme switch flips and remembers the theme', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/`);
  const theme = () => page.evaluate(() => document.documentElement.dataset.theme);
  const initial = await theme();
  await page.locator('.sidebar .theme-toggle').click();
  const flipped = await theme();
  assert.notEqual(flipped, initial, 'a click changes the theme, so event handlers are attached');
  await page.reload();
  await waitForHydration(page);
  assert.equal(await theme(), flipped, 'the choice survives a reload');
  await page.getByText('Database reachable').waitFor();
  await page.screenshot({ path: `${SHOTS}/home-${flipped}.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('the time range lives in the URL and follows navigation', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/metrics`);
  const label = page.locator('.time-picker-label');
  assert.equal(await label.textContent(), 'Last 1 hour');

  await page.locator('.time-picker-toggle').click();
  await page.getByRole('button', { name: 'Last 6 hours' }).click();
  await page.waitForURL(/from=now-6h&to=now/);
  assert.equal(await label.textContent(), 'Last 6 hours');

  // A bad entry is refused at the field, and the URL keeps the last good range.
  await page.locator('.time-picker-toggle').click();
  await page.locator('input[name="from"]').fill('yesterday-ish');
  await page.getByRole('button', { name: 'Apply time range' }).click();
  const fieldError = page.locator('.field-error').first();
  assert.match(await fieldError.textContent(), /is not a time/);
  assert.match(page.url(), /from=now-6h/);

  await page.locator('input[name="from"]').fill('now-2d');
  await page.locator('input[name="to"]').fill('now-1d');
  await page.getByRole('button', { name: 'Apply time range' }).click();
  await page.waitForURL(/from=now-2d&to=now-1d/);

  await page.locator('select.refresh-picker-select').selectOption('30s');
  await page.waitForURL(/refresh=30s/);

  // The sidebar carries the range to the next page, which reads it back from the URL.
  await page.locator('.sidebar').getByRole('link', { name: 'Logs' }).click();
  await page.waitForURL(/\/explore\/logs\?from=now-2d&to=now-1d&refresh=30s/);
  assert.equal(await page.locator('.time-picker-label').textContent(), 'now-2d to now-1d');

  // A copied link opens the same view in a fresh tab.
  const copied = page.url();
  const other = await session.browser.context.newPage();
  await other.goto(copied);
  await waitForHydration(other);
  assert.equal(await other.locator('.time-picker-label').textContent(), 'now-2d to now-1d');
  assert.equal(await other.locator('select.refresh-picker-select').inputValue(), '30s');
  await other.close();

  // Back returns to the previous view.
  await page.goBack();
  await page.waitForURL(/\/explore\/metrics/);
  assert.deepEqual(errors, []);
});

test('the settings page shows the live status of the portal and its database', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/settings`);
  await page.getByText('Embedded PostgreSQL (no DATABASE_URL set)').waitFor();
  const details = await page.locator('.status-list').textContent();
  assert.match(details, /Database reachableyes/);
  assert.match(details, new RegExp(session.data.dir.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')));
  await page.getByRole('radio', { name: 'Dark', exact: true }).check();
  assert.equal(await page.evaluate(() => document.documentElement.dataset.theme), 'dark');
  await page.screenshot({ path: `${SHOTS}/settings-dark.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('on a narrow screen the navigation opens from the menu button', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/silences`);
  await page.setViewportSize({ width: 390, height: 800 });
  const sidebar = page.locator('.sidebar');
  // The sidebar slides off-screen; the menu button is the way in.
  await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().right <= 0);
  assert.ok(await page.locator('.mobile-bar-menu').isVisible());
  await page.locator('.mobile-bar-menu').click();
  await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().x >= 0);
  await page.screenshot({ path: `${SHOTS}/narrow-menu.png` });
  await sidebar.getByRole('link', { name: 'Alert rules' }).click();
  await page.waitForURL(/\/alerting\/rules/);
  await page.waitForFunction(() => document.querySelector('.sidebar').getBoundingClientRect().x < 0);
  await page.setViewportSize({ width: 1440, height: 900 });
  assert.deepEqual(errors, []);
});

test('an unknown address shows the not-found page inside the frame', async () => {
  const response = await fetch(`${session.portal.url}/nowhere`);
  assert.equal(response.status, 404);
  const { page } = await openPage(session.browser.context, `${session.portal.url}/nowhere`);
  await page.getByRole('heading', { name: 'Page not found' }).waitFor();
  assert.ok(await page.locator('.sidebar').isVisible());
});
