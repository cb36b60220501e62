// Explore → Metrics in headless Chromium over the demo fleet's data: autocomplete, the chart
// (lines, legend, hover read-out, drag-to-zoom into the URL), the table view, and errors shown
// at the query.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

// The demo writes its history on start; the tests begin once it is queryable.
async function demoHistory(portal) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await session.portal.fetch(`${session.portal.url}/api/v1/query?query=count(agent_task_success_total)`);
    const body = await r.json();
    if (body.data?.result?.length) return;
    if (Date.now() > deadline) throw new Error('the demo data never arrived');
    await new Promise((res) => setTimeout(res, 500));
  }
}

const session = usePortalAndBrowser({ env: { PORTAL_DEMO: 'true' }, ready: demoHistory });

test('a query typed with autocomplete draws the demo data with legend, hover and zoom', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/metrics?from=now-3h&to=now`);
  const editor = page.getByLabel('PromQL query');
  await editor.click();
  await editor.pressSequentially('sum by (agent_id) (rate(agent_task_succ');
  const suggestion = page.locator('.promql-suggestion', { hasText: 'agent_task_success_total' });
  await suggestion.first().waitFor();
  await editor.press('Enter'); // picks the highlighted suggestion
  assert.equal(await editor.inputValue(), 'sum by (agent_id) (rate(agent_task_success_total');
  await editor.pressSequentially('[5m]))');
  await editor.press('Enter'); // runs the query
  await page.waitForURL(/q=sum/);

  const lines = page.locator('.ts-chart-svg polyline[stroke-width="2"]');
  await lines.first().waitFor();
  assert.ok((await lines.count()) >= 8, 'one line per agent');
  const legend = page.locator('.ts-chart-legend-item');
  assert.equal(await legend.count(), 8);
  await page.getByText(/8 series · step 1m/).waitFor();

  // Hovering shows every agent's value at that time.
  const overlay = page.locator('.ts-chart-overlay');
  const box = await overlay.boundingBox();
  await page.mouse.move(box.x + box.width * 0.5, box.y + box.height * 0.5);
  const tooltip = page.locator('.ts-chart-tooltip');
  await tooltip.waitFor();
  assert.ok((await tooltip.locator('.ts-chart-tooltip-row').count()) >= 1);
  assert.match(await tooltip.innerText(), /agent_id="planner-1"/);
  await page.screenshot({ path: `${SHOTS}/explore-graph.png`, fullPage: true });

  // Clicking a legend entry shows that series alone.
  await legend.first().click();
  assert.equal(await page.locator('.ts-chart-legend-item.dimmed').count(), 7);
  await legend.first().click();
  assert.equal(await page.locator('.ts-chart-legend-item.dimmed').count(), 0);

  // Dragging across the chart zooms the URL's time range to the selection.
  await page.mouse.move(box.x + box.width * 0.3, box.y + box.height * 0.5);
  await page.mouse.down();
  await page.mouse.move(box.x + box.width * 0.6, box.y + box.height * 0.5, { steps: 5 });
  await page.mouse.up();
  await page.waitForURL(/from=\d{13}&to=\d{13}|to=\d{13}.*from=\d{13}/);
  const url = new URL(page.url());
  const span = Number(url.searchParams.get('to')) - Number(url.searchParams.get('from'));
  assert.ok(span > 40 * 60_000 && span < 80 * 60_000, `zoomed to about a third of 3h: ${span} ms`);
  assert.equal(url.searchParams.get('q'), 'sum by (agent_id) (rate(agent_task_success_total[5m]))');
  await page.getByText(/8 series · step (10|15)s/).waitFor();
  assert.deepEqual(errors, []);
});

test('label names and values complete inside braces, and the table shows instant values', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/metrics?view=table`);
  const editor = page.getByLabel('PromQL query');
  await editor.click();
  await editor.pressSequentially('agent_queue_depth{que');
  await page.locator('.promql-suggestion', { hasText: 'queue_name' }).waitFor();
  await editor.press('Tab');
  await page.locator('.promql-suggestion', { hasText: 'research' }).click();
  assert.equal(await editor.inputValue(), 'agent_queue_depth{queue_name="research"');
  await editor.pressSequentially('}');
  await page.getByRole('button', { name: 'Run query' }).click();
  const rows = page.locator('.result-table tbody tr');
  await rows.first().waitFor();
  assert.equal(await rows.count(), 1);
  assert.match(await rows.first().innerText(), /queue_name="research"/);
  await page.screenshot({ path: `${SHOTS}/explore-table.png`, fullPage: true });

  // With auto-refresh on, the query runs again by itself.
  await page.locator('select.refresh-picker-select').selectOption('5s');
  await page.waitForRequest((r) => r.url().includes('/api/v1/query?query=agent_queue_depth'), { timeout: 15_000 });
  assert.deepEqual(errors, []);
});

test('a bad query shows its error at the editor and keeps the page usable', async () => {
  const { page } = await openPage(
    session.browser.context,
    `${session.portal.url}/explore/metrics?q=${encodeURIComponent('sum(rate(agent_task_success_total[5m])')}`,
  );
  const error = page.locator('.query-error');
  await error.waitFor();
  assert.match(await error.innerText(), /unclosed|expected|parse/i);
  assert.equal(await page.getByLabel('PromQL query').getAttribute('aria-invalid'), 'true');
  const editor = page.getByLabel('PromQL query');
  await editor.fill('agent_queue_depth');
  await page.getByRole('button', { name: 'Run query' }).click();
  await page.locator('.ts-chart-svg polyline[stroke-width="2"]').first().waitFor();
  assert.equal(await error.count(), 0);
});
