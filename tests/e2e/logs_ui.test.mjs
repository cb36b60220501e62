// Explore → Logs in headless Chromium: search with the histogram and facets, a line opened to
// its fields and its context, a facet value added to the query (kept in the URL), and the
// live tail showing a new line within a second.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

// The page is checked against exactly the lines these tests send: the portal's own stream
// announcing their new error groups (on by default) is turned off.
const session = usePortalAndBrowser({ env: { PORTAL_LOGS_ANNOUNCE_ERROR_GROUPS: 'false' } });

async function push(lines) {
  const { portal } = session;
  const r = await portal.fetch(`${portal.url}/api/logs/lines?service=checkout`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-ndjson' },
    body: lines.map((l) => JSON.stringify(l)).join('\n'),
  });
  assert.equal(r.status, 200, await r.text());
}

test('search, histogram, facets, a line with its fields and context, and a live tail', async () => {
  const now = Date.now();
  const at = (ms) => new Date(now - ms).toISOString();
  await push([
    { time: at(50_000), level: 'info', msg: 'cart opened', agent_id: 'shopper-1' },
    { time: at(40_000), level: 'info', msg: 'payment started', agent_id: 'shopper-1', order_id: 'o-9' },
    { time: at(30_000), level: 'error', msg: 'payment failed: card declined', agent_id: 'shopper-1', order_id: 'o-9',
      trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' },
    { time: at(20_000), level: 'warn', msg: 'retrying payment', agent_id: 'shopper-2', order_id: 'o-9' },
    { time: at(10_000), level: 'info', msg: 'cart closed', agent_id: 'shopper-2' },
  ]);
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/logs?from=now-15m&to=now`);
  const lines = page.locator('.logs-list:not(.logs-live-list) > .logs-line');
  await lines.first().waitFor();
  assert.equal(await lines.count(), 5);
  assert.match(await lines.first().innerText(), /cart closed/, 'newest first');
  await page.getByText('5 matching lines').waitFor();
  assert.ok((await page.locator('.logs-histogram rect.level-error').count()) >= 1, 'the histogram shows the error');

  // A query typed and run is in the URL; only the matching lines remain.
  const input = page.getByLabel('Log query');
  await input.fill('level>=warn payment');
  await input.press('Enter');
  await page.waitForURL(/query=level/);
  await page.getByText('2 matching lines').waitFor();
  // The histogram may answer before the lines do.
  await page.waitForFunction(() => document.querySelectorAll('.logs-list:not(.logs-live-list) > .logs-line').length === 2);

  // A line opens to its labels and fields; its context shows its stream's lines around it.
  await lines.filter({ hasText: 'card declined' }).locator('.logs-line-head').click();
  const details = page.locator('.logs-details');
  await details.waitFor();
  assert.match(await details.innerText(), /order_id[\s\S]*o-9/);
  assert.match(await details.innerText(), /service_name[\s\S]*checkout/);
  assert.equal(await details.getByRole('link', { name: 'Open trace' }).getAttribute('href'),
    '/explore/traces?trace=4bf92f3577b34da6a3ce929d0e0e4736');
  await details.getByRole('button', { name: 'Show context' }).click();
  const context = page.locator('.logs-context');
  await context.waitFor();
  assert.equal(await context.locator('li').count(), 5, 'all five lines of the stream');
  assert.match(await context.locator('.logs-context-hit').innerText(), /card declined/);
  await page.screenshot({ path: `${SHOTS}/logs-line.png`, fullPage: true });

  // A facet value joins the query.
  await page.locator('.logs-facet', { hasText: 'agent_id' }).locator('summary').click();
  await page.locator('.logs-facet-value', { hasText: 'shopper-2' }).click();
  await page.waitForURL(/agent_id%3Ashopper-2|agent_id:shopper-2/);
  await page.getByText('1 matching lines').waitFor();

  // Live: a line stored now shows within a second, and only if it matches.
  await input.fill('service:checkout');
  await input.press('Enter');
  await page.getByRole('button', { name: 'Live' }).click();
  await page.waitForURL(/live=1/);
  await page.locator('.logs-live-status').waitFor();
  // The tail is open once its first (history) event has come: give it a moment.
  await page.waitForTimeout(500);
  const started = Date.now();
  await push([
    { time: new Date().toISOString(), level: 'error', msg: 'live: gateway timeout', agent_id: 'shopper-3' },
    { time: new Date().toISOString(), level: 'info', msg: 'live: elsewhere' },
  ]);
  const live = page.locator('.logs-live-list > .logs-line', { hasText: 'gateway timeout' });
  await live.waitFor({ timeout: 5_000 });
  const took = Date.now() - started;
  assert.ok(took < 1_000, `the live line took ${took} ms`);
  await page.getByText(/Live: 2 new lines/).waitFor();
  await page.screenshot({ path: `${SHOTS}/logs-live.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('the lines cluster into patterns, and a pattern leads back to its lines', async () => {
  const now = Date.now();
  const lines = [];
  for (let i = 0; i < 12; i++) {
    lines.push({ time: new Date(now - 60_000 + i * 1000).toISOString(), level: 'info',
      msg: `order o-${100 + i} shipped to warehouse-${i % 3}` });
  }
  for (let i = 0; i < 4; i++) {
    lines.push({ time: new Date(now - 30_000 + i * 1000).toISOString(), level: 'error',
      msg: `courier api answered ${500 + i} after ${200 + i} ms` });
  }
  await push(lines);
  const { page, errors } = await openPage(session.browser.context,
    `${session.portal.url}/explore/logs?from=now-5m&to=now&query=${encodeURIComponent('shipped OR courier')}`);
  await page.locator('button[name="view-patterns"]').click();
  await page.waitForURL(/view=patterns/);
  const patterns = page.locator('.log-pattern');
  await patterns.first().waitFor();
  const texts = await page.locator('.log-pattern-text').allInnerTexts();
  assert.deepEqual(texts, ['order <id> shipped to <id>', 'courier api answered <number> after <number> ms']);
  const counts = (await page.locator('.log-pattern-count').allInnerTexts()).map(Number);
  assert.deepEqual(counts, [12, 4]);
  assert.match(await page.locator('p[aria-live]', { hasText: 'patterns in' }).innerText(), /2 patterns in 16 lines/);
  await page.screenshot({ path: `${SHOTS}/logs-patterns.png`, fullPage: true });

  // "Show lines" narrows the search to the pattern's words and goes back to the lines.
  await patterns.filter({ hasText: 'courier' }).getByRole('button', { name: 'Show lines' }).click();
  await page.waitForURL((url) => !url.search.includes('view=patterns') && url.search.includes('courier'));
  const shown = page.locator('.logs-list:not(.logs-live-list) > .logs-line');
  await page.getByText('4 matching lines').waitFor();
  // The count comes with the histogram; the list may still show the earlier search's lines
  // until its own answer arrives.
  await page.waitForFunction(
    () => document.querySelectorAll('.logs-list:not(.logs-live-list) > .logs-line').length === 4);
  assert.equal(await shown.count(), 4);
  assert.deepEqual(errors, []);
});

test('a dashboard logs panel lists the newest matching lines of its range, with its variables', async () => {
  const { portal } = session;
  const created = await portal.fetch(`${portal.url}/api/dashboards`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({
      dashboard: {
        title: 'Courier logs',
        variables: [{ name: 'word', type: 'custom', values: 'courier,shipped', current: ['courier'] }],
        panels: [{ id: 1, type: 'logs', title: 'Courier errors', gridPos: { x: 0, y: 0, w: 24, h: 8 },
          options: { logs_query: '$word level>=error' } }],
      },
    }),
  });
  const answer = await created.text();
  assert.equal(created.status, 201, answer);
  const record = JSON.parse(answer);
  const uid = record.uid ?? record.dashboard.uid;
  const { page, errors } = await openPage(session.browser.context, `${portal.url}/d/${uid}?from=now-15m&to=now`);
  const rows = page.locator('.panel-log-line');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 4);
  for (const text of await rows.allInnerTexts()) assert.match(text, /error[\s\S]*courier api answered/i);
  const href = await page.getByRole('link', { name: 'Open in Explore → Logs' }).getAttribute('href');
  assert.match(decodeURIComponent(href.replace(/\+/g, ' ')), /^\/explore\/logs\?query=courier level>=error&from=\d+&to=\d+$/);
  await page.screenshot({ path: `${SHOTS}/logs-panel.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('a search is saved by name and run again from the list', async () => {
  const { page, errors } = await openPage(session.browser.context,
    `${session.portal.url}/explore/logs?from=now-15m&to=now&query=${encodeURIComponent('courier level>=error')}`);
  await page.getByText('4 matching lines').waitFor();
  await page.locator('button[name="save-search"]').click();
  await page.locator('input[name="save-search-name"]').fill('Courier errors');
  await page.locator('button[name="save-search-confirm"]').click();
  await page.getByRole('status').filter({ hasText: 'Saved as "Courier errors".' }).waitFor();

  // Elsewhere, later: chosen from the list, it runs again.
  await page.goto(`${session.portal.url}/explore/logs?from=now-15m&to=now`);
  const select = page.locator('select[name="saved-search"]');
  await select.locator('option', { hasText: 'Courier errors' }).waitFor({ state: 'attached' });
  await select.selectOption({ label: 'Courier errors' });
  await page.waitForURL(/query=courier/);
  await page.getByText('4 matching lines').waitFor();
  await page.locator('button[name="delete-saved-search"]').click();
  await page.getByRole('status').filter({ hasText: 'Deleted.' }).waitFor();
  const left = await (await session.portal.fetch(`${session.portal.url}/api/logs/saved-searches`)).json();
  assert.deepEqual(left, []);
  assert.deepEqual(errors, []);
});

test('the query bar completes field names and their values from the lines in view', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/logs?from=now-15m&to=now`);
  await page.locator('.logs-facet').first().waitFor();
  const input = page.getByLabel('Log query');
  await input.click();
  await input.pressSequentially('agen');
  const options = page.locator('#logs-suggestions [role="option"]');
  await options.first().waitFor();
  assert.deepEqual(await options.allInnerTexts(), ['agent_id:']);
  await input.press('ArrowDown');
  await input.press('Enter');
  assert.equal(await input.inputValue(), 'agent_id:');
  await input.pressSequentially('shopper-');
  await page.waitForFunction(() => document.querySelectorAll('#logs-suggestions [role="option"]').length === 3);
  await options.filter({ hasText: 'shopper-2' }).click();
  assert.equal(await input.inputValue(), 'agent_id:shopper-2 ');
  await input.press('Enter');
  await page.waitForURL(/agent_id%3Ashopper-2|agent_id:shopper-2/);
  await page.getByText('2 matching lines').waitFor();
  assert.deepEqual(errors, []);
});
