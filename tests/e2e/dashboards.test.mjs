// Dashboards in headless Chromium over the demo fleet: the built-in Agent overview draws every
// panel; a person builds a dashboard with a variable, saves it, picks values and shares it; the
// link (and its short form) opens the same view in a fresh browser; a public link works without
// an account until revoked; a Grafana dashboard imports; a panel image opens as a PNG.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launchBrowser, openPage } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

async function demoHistory(portal) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await portal.fetch(`${portal.url}/api/v1/query?query=count(agent_task_success_total)`);
    const body = await r.json();
    if (body.data?.result?.length) return;
    if (Date.now() > deadline) throw new Error('the demo data never arrived');
    await new Promise((res) => setTimeout(res, 500));
  }
}

const session = usePortalAndBrowser({ env: { PORTAL_DEMO: 'true' }, ready: demoHistory });

/** Waits until no panel says it is loading and every query panel shows a drawing or a table. */
async function panelsDrawn(page, expected) {
  await page.waitForFunction((n) => {
    const panels = [...document.querySelectorAll('.panel')];
    if (panels.length < n) return false;
    return panels.every((p) => p.querySelector('.ts-chart-svg svg, .panel-svg svg, .panel-table, .panel-text, .panel-empty, .panel-error'))
      && [...document.querySelectorAll('.panel-loading')].every((l) => l.classList.contains('hidden'));
  }, expected, { timeout: 30_000 });
}

test('the built-in Agent overview draws every panel and writes its defaults into the URL', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/dashboards`);
  await page.getByRole('link', { name: 'Agent overview' }).click();
  await page.waitForURL(/\/d\/agent-overview\?from=now-6h&to=now&refresh=30s&var-agent=\$__all&var-window=1h/);
  await panelsDrawn(page, 17);
  assert.equal(await page.locator('.panel-error').count(), 0, 'no panel reports an error');
  assert.ok((await page.locator('.ts-chart-svg polyline').count()) > 20, 'time series are drawn');
  assert.match(await page.locator('.panel', { hasText: 'Agents reporting' }).textContent(), /\b8\b/);
  // Chart text is drawn without an outline, panel titles are whole, bar labels are readable.
  const look = await page.evaluate(() => {
    const texts = [...document.querySelectorAll('.panel-svg svg text, .ts-chart-svg svg text')];
    const titles = [...document.querySelectorAll('.panel-title')];
    const bar = document.querySelector('.panel[aria-label^="Error rate"] .panel-svg svg text');
    return {
      outlined: texts.filter((t) => getComputedStyle(t).stroke !== 'none').length,
      texts: texts.length,
      cut: titles.filter((t) => t.scrollWidth > t.clientWidth).map((t) => t.textContent),
      barLabelPx: bar ? bar.getBoundingClientRect().height : 0,
    };
  });
  assert.ok(look.texts > 50, `chart text found: ${look.texts}`);
  assert.equal(look.outlined, 0, 'chart text has no outline');
  assert.deepEqual(look.cut, [], 'no panel title is cut short');
  assert.ok(look.barLabelPx >= 12, `bar labels are ${look.barLabelPx} px high`);
  // A collapsed row hides its panels.
  const before = await page.locator('.panel').count();
  await page.getByRole('button', { name: /Queues/ }).click();
  assert.equal(await page.locator('.panel').count(), before - 2);
  await page.getByRole('button', { name: /Queues/ }).click();
  await page.screenshot({ path: `${SHOTS}/dashboard-agent-overview.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('a dashboard with a variable is built in the browser, saved, and shared by link', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/dashboards`);
  await page.getByRole('button', { name: 'New dashboard' }).click();
  await page.waitForURL(/\/d\/[A-Za-z0-9]+/);
  const uid = new URL(page.url()).pathname.split('/').pop();

  await page.getByRole('button', { name: 'Edit' }).click();
  await page.getByRole('button', { name: 'Settings' }).click();
  const settings = page.getByRole('dialog', { name: 'Dashboard settings' });
  await settings.locator('input[name=title]').fill('Fleet health');
  await settings.locator('input[name=title]').press('Tab');
  await settings.getByRole('button', { name: 'Add variable' }).click();
  await settings.getByLabel('Name').fill('agent');
  await settings.getByLabel('Name').press('Tab');
  await settings.getByLabel('Query or values').fill('label_values(agent_task_success_total, agent_id)');
  await settings.getByLabel('Query or values').press('Tab');
  await settings.getByLabel('Multi').check();
  await settings.getByLabel('All', { exact: true }).check();
  await settings.getByRole('button', { name: 'Apply' }).click();

  await page.getByRole('button', { name: 'Add panel' }).click();
  const editor = page.getByRole('dialog', { name: 'Edit panel' });
  await editor.locator('input[name=title]').fill('Tasks of $agent');
  await editor.locator('input[name=title]').press('Tab');
  await editor.getByLabel('PromQL query').fill('sum by (agent_id) (rate(agent_task_success_total{agent_id=~"$agent"}[5m]))');
  await editor.locator('input[placeholder="{{label}}"]').fill('{{agent_id}}');
  await editor.locator('input[placeholder="{{label}}"]').press('Tab');
  await editor.getByRole('button', { name: 'Run queries' }).click();
  await editor.locator('.ts-chart-svg polyline[stroke-width="2"]').first().waitFor();
  await editor.getByRole('button', { name: 'Apply' }).click();
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved as version 2').waitFor();

  // Pick two agents: the URL, the title and the lines follow.
  await page.locator('.variable-multi button').click();
  await page.getByRole('listbox').getByLabel('All').uncheck();
  await page.getByRole('listbox').getByLabel('coder-1').check();
  await page.getByRole('listbox').getByLabel('planner-1').check();
  await page.getByRole('listbox').getByRole('button', { name: 'Apply' }).click();
  await page.waitForURL(/var-agent=coder-1&var-agent=planner-1/);
  await page.getByRole('heading', { name: 'Tasks of coder-1, planner-1' }).waitFor();
  await page.waitForFunction(() => document.querySelectorAll('.panel .ts-chart-legend-item').length === 2);

  // The share dialog's locked link and short link open the same view in a fresh browser.
  await page.getByRole('button', { name: 'Share' }).click();
  const share = page.getByRole('dialog', { name: 'Share' });
  await share.getByLabel('Lock the time range').check();
  const link = await share.locator('input[name=share-link]').inputValue();
  assert.match(link, new RegExp(`/d/${uid}\\?from=\\d+&to=\\d+&.*var-agent=coder-1&var-agent=planner-1`));
  await share.getByRole('button', { name: 'Shorten' }).click();
  const short = await share.locator('input[name=short-link]').inputValue();
  assert.match(short, /\/s\/[A-Za-z0-9]{8}$/);
  await page.screenshot({ path: `${SHOTS}/dashboard-share.png` });
  await share.getByRole('button', { name: 'Close' }).click();

  // A fresh browser, signed in (links to a dashboard ask who opens them; only public links don't).
  const fresh = await launchBrowser();
  await fresh.context.addCookies([
    { name: 'portal_session', value: session.portal.cookie, url: session.portal.url },
  ]);
  try {
    for (const url of [link, short]) {
      const { page: other, errors: otherErrors } = await openPage(fresh.context, url);
      await other.waitForURL(/var-agent=coder-1&var-agent=planner-1/);
      await other.getByRole('heading', { name: 'Tasks of coder-1, planner-1' }).waitFor();
      await other.waitForFunction(() => document.querySelectorAll('.panel .ts-chart-legend-item').length === 2);
      assert.equal(await other.locator('.variable-multi button').innerText(), 'coder-1 + planner-1');
      assert.deepEqual(otherErrors, []);
    }
  } finally {
    await fresh.close();
  }
  assert.deepEqual(errors, []);
});

test('a public link opens one dashboard without an account, variables usable, until revoked', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/d/agent-overview`);
  await panelsDrawn(page, 17);
  await page.getByRole('button', { name: 'Share' }).click();
  const share = page.getByRole('dialog', { name: 'Share' });
  await share.getByRole('tab', { name: 'Public link' }).click();
  await share.getByRole('button', { name: 'Create public link' }).click();
  const input = share.locator('input[name=public-link]').first();
  await input.waitFor();
  const url = await input.inputValue();
  assert.match(url, /\/public\/[A-Za-z0-9]{32}$/);

  const fresh = await launchBrowser();
  try {
    const { page: pub, errors: pubErrors } = await openPage(fresh.context, url);
    await panelsDrawn(pub, 17);
    assert.equal(await pub.locator('.panel-error').count(), 0);
    assert.equal(await pub.getByRole('button', { name: 'Edit' }).count(), 0, 'read-only');
    assert.equal(await pub.locator('nav').count(), 0, 'nothing else of the portal');
    // The variables still work.
    await pub.locator('.variable-multi button').click();
    await pub.getByRole('listbox').getByLabel('All').uncheck();
    await pub.getByRole('listbox').getByLabel('reviewer-1').check();
    await pub.getByRole('listbox').getByRole('button', { name: 'Apply' }).click();
    await pub.waitForURL(/var-agent=reviewer-1/);
    await pub.waitForFunction(() => [...document.querySelectorAll('.panel')].find((p) => p.innerText.includes('Memory per agent'))
      ?.querySelectorAll('.ts-chart-legend-item').length === 1);
    await pub.screenshot({ path: `${SHOTS}/dashboard-public.png`, fullPage: true });
    assert.deepEqual(pubErrors, []);
    // A chat tool unfurling the link (no account) gets the title and the preview image.
    const html = await (await fetch(url)).text();
    const image = html.match(/<meta property="og:image" content="([^"]+)"/)[1].replaceAll('&amp;', '&');
    const preview = await fetch(image);
    assert.equal(preview.status, 200);
    assert.equal(preview.headers.get('content-type'), 'image/png');

    // Revoked in the portal, the link stops working.
    await share.getByRole('button', { name: 'Revoke' }).first().click();
    await share.getByText('revoked').waitFor();
    await pub.reload();
    await pub.getByText('This dashboard is not available').waitFor();
  } finally {
    await fresh.close();
  }
  assert.deepEqual(errors, []);
});

test('a Grafana dashboard imports with a report of what was left out', async () => {
  const grafana = {
    uid: 'from-grafana', title: 'From Grafana', schemaVersion: 39,
    panels: [
      { id: 1, type: 'timeseries', title: 'Queue depth', gridPos: { x: 0, y: 0, w: 24, h: 8 },
        datasource: { type: 'prometheus', uid: 'prom' },
        targets: [{ expr: 'sum by (queue_name) (agent_queue_depth)', legendFormat: '{{queue_name}}' }] },
      { id: 2, type: 'nodeGraph', title: 'Agent calls', gridPos: { x: 0, y: 8, w: 24, h: 8 } },
    ],
  };
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/dashboards`);
  await page.getByRole('button', { name: 'Import' }).click();
  const dialog = page.getByRole('dialog', { name: 'Import a dashboard' });
  await dialog.getByLabel('Dashboard JSON').fill(JSON.stringify(grafana));
  await dialog.locator('input[name=import-folder]').fill('Imported');
  await dialog.locator('input[name=import-folder]').press('Tab');
  await dialog.getByRole('button', { name: 'Import', exact: true }).click();
  await dialog.getByText('with 1 panels').waitFor();
  assert.match(await dialog.innerText(), /panels\[1\] \(Agent calls\): panels of type "nodeGraph" are not supported/);
  await dialog.getByRole('link', { name: 'From Grafana' }).click();
  await page.waitForURL(/\/d\/from-grafana/);
  await panelsDrawn(page, 1);
  assert.equal(await page.locator('.panel .ts-chart-legend-item').count(), 4);
  assert.deepEqual(errors, []);
});

test('a panel image opens as a PNG and dashboard pages carry it as their preview', async () => {
  // A page of its own: for an image document Chromium also asks for /favicon.ico, whose 404
  // must not land in the next test's console.
  const page = await session.browser.context.newPage();
  const response = await page.goto(`${session.portal.url}/api/dashboards/agent-overview/panels/9.png?from=now-1h&to=now&width=900&height=320`);
  assert.equal(response.status(), 200);
  assert.equal(response.headers()['content-type'], 'image/png');
  const size = await page.evaluate(() => { const img = document.querySelector('img'); return [img.naturalWidth, img.naturalHeight]; });
  assert.deepEqual(size, [900, 320]);
  const html = await (await session.portal.fetch(`${session.portal.url}/d/agent-overview?from=now-1h&to=now`)).text();
  assert.match(html, /<meta property="og:title" content="Agent overview"\/>/);
  const image = html.match(/<meta property="og:image" content="([^"]+)"/)[1].replaceAll('&amp;', '&');
  // The preview is read with the dashboard's own access: without credentials it is refused.
  assert.equal((await fetch(image)).status, 401);
  const preview = await session.portal.fetch(image);
  assert.equal(preview.status, 200);
  assert.equal(preview.headers.get('content-type'), 'image/png');
  await page.close();
});

test('edit mode moves, resizes, duplicates and removes panels; history compares and restores', async () => {
  const stat = (id, x, title) => ({ id, type: 'stat', title, gridPos: { x, y: 0, w: 12, h: 4 },
    targets: [{ expr: 'sum(agent_queue_depth)' }] });
  const model = { uid: 'layout-test', title: 'Layout', panels: [stat(1, 0, 'Left'), stat(2, 12, 'Right')] };
  const created = await session.portal.fetch(`${session.portal.url}/api/dashboards`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ dashboard: model }),
  });
  assert.equal(created.status, 201);
  const stored = async () => (await (await session.portal.fetch(`${session.portal.url}/api/dashboards/layout-test`)).json());

  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/d/layout-test?from=now-1h&to=now`);
  await panelsDrawn(page, 2);
  await page.getByRole('button', { name: 'Edit' }).click();
  const left = page.locator('.panel[data-panel-id="1"]');
  const right = page.locator('.panel[data-panel-id="2"]');
  const grid = await page.locator('.dashboard-grid').boundingBox();
  const column = (grid.width + 8) / 24;

  // Drag "Left" eight columns right, onto "Right": "Right" moves below it.
  const header = await left.locator('.panel-header').boundingBox();
  await page.mouse.move(header.x + 40, header.y + 10);
  await page.mouse.down();
  await page.mouse.move(header.x + 40 + column * 4, header.y + 10, { steps: 4 });
  await page.mouse.move(header.x + 40 + column * 8, header.y + 10, { steps: 4 });
  await page.mouse.up();
  const leftBox = await left.boundingBox();
  const rightBox = await right.boundingBox();
  assert.ok(leftBox.x > grid.x + column * 7, 'Left moved right');
  assert.ok(rightBox.y >= leftBox.y + leftBox.height, 'Right was pushed below Left');

  // Resize "Left" by dragging its corner four columns wider.
  const handle = await left.locator('.panel-resize').boundingBox();
  await page.mouse.move(handle.x + 5, handle.y + 5);
  await page.mouse.down();
  await page.mouse.move(handle.x + 5 - column * 4, handle.y + 5, { steps: 4 });
  await page.mouse.up();
  assert.ok((await left.boundingBox()).width < leftBox.width - column * 3, 'Left is narrower');

  await left.getByRole('button', { name: 'Duplicate' }).click();
  await page.locator('.panel', { hasText: 'Left (copy)' }).waitFor();
  assert.equal(await page.locator('.panel').count(), 3);
  await page.locator('.panel', { hasText: 'Left (copy)' }).getByRole('button', { name: 'Remove' }).click();
  assert.equal(await page.locator('.panel').count(), 2);
  await page.getByRole('button', { name: 'Save' }).click();
  await page.getByText('Saved as version 2').waitFor();
  const saved = await stored();
  const byId = (d, id) => d.dashboard.panels.find((p) => p.id === id).gridPos;
  assert.deepEqual(byId(saved, 1), { x: 8, y: 0, w: 8, h: 4 });
  assert.equal(byId(saved, 2).y, 4);

  // One panel full-screen, in the URL.
  await right.getByRole('button', { name: 'View' }).click();
  await page.waitForURL(/viewPanel=2/);
  assert.equal(await page.locator('.panel').count(), 1);
  await page.getByRole('button', { name: '← Back to the dashboard' }).click();
  await page.waitForFunction(() => document.querySelectorAll('.panel').length === 2);

  // History: compare the two versions, then bring the first back.
  await page.getByRole('button', { name: 'History' }).click();
  const history = page.getByRole('dialog', { name: 'Version history' });
  await history.getByLabel('Compare version 1').check();
  await history.getByLabel('Compare version 2').check();
  await history.locator('.diff-table').getByText('panels[0].gridPos.x').waitFor();
  await history.getByRole('button', { name: 'Restore' }).click();
  await history.getByText('3 (current)').waitFor();
  const restored = await stored();
  assert.equal(restored.version, 3);
  assert.deepEqual(byId(restored, 1), { x: 0, y: 0, w: 12, h: 4 });
  assert.deepEqual(errors, []);
});
