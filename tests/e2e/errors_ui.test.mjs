// Explore → Errors in headless Chromium over the demo's logs: its agents' failures (with Python
// stack traces, half sent over OTLP, half through Loki's push API) grouped by exception, message
// and top frame, with counts, trends and the newest line, and a way to the lines themselves.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { openPage } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

// The demo writes six hours of history on start; the tests begin once its errors are grouped.
async function demoErrors(portal) {
  const deadline = Date.now() + 90_000;
  for (;;) {
    const r = await portal.fetch(`${portal.url}/api/logs/errors?from=now-7h&to=now`);
    const body = await r.json();
    if (body.groups?.length >= 3) return;
    if (Date.now() > deadline) throw new Error(`the demo's errors never arrived: ${JSON.stringify(body)}`);
    await new Promise((res) => setTimeout(res, 1000));
  }
}

const session = usePortalAndBrowser({ env: { PORTAL_DEMO: 'true' }, ready: demoErrors });

test("the demo's failures are grouped by exception, message and top frame", async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/errors?from=now-7h&to=now`);
  const groups = page.locator('.error-group');
  await groups.first().waitFor();
  assert.ok((await groups.count()) >= 3);
  const kinds = await page.locator('.error-kind').allInnerTexts();
  for (const kind of kinds) {
    assert.ok(['TimeoutError', 'RateLimitError', 'ToolError', 'ValueError'].includes(kind), kind);
  }
  // The most frequent first.
  const counts = (await page.locator('.error-count').allInnerTexts()).map(Number);
  assert.deepEqual(counts, [...counts].sort((a, b) => b - a));
  const timeout = groups.filter({ hasText: 'TimeoutError' }).first();
  assert.match(await timeout.locator('.error-message').innerText(), /LLM call exceeded its <number> s deadline/);
  assert.equal(await timeout.locator('.error-frame').innerText(), 'agents/llm.py in complete');
  assert.ok((await timeout.locator('.error-trend rect').count()) === 24);
  await timeout.locator('summary', { hasText: 'Newest line' }).click();
  await timeout.locator('.error-example pre').first().waitFor();
  assert.match(await timeout.locator('.error-example').innerText(), /task t-\d+ failed/);
  await page.screenshot({ path: `${SHOTS}/errors.png`, fullPage: true });

  // A query narrows the lines grouped, and stays in the URL.
  const input = page.getByLabel('Error query');
  await input.fill('agent_id:coder-1');
  await input.press('Enter');
  await page.waitForURL(/query=agent_id/);
  // The groups of the whole fleet stay on screen until the narrowed ones arrive.
  await page.waitForFunction(() => {
    const places = [...document.querySelectorAll('.error-where')].map((e) => e.innerText);
    return places.length > 0 && places.every((p) => !/coder-2|planner/.test(p));
  }, null, { timeout: 30_000 });
  for (const agents of await page.locator('.error-where').allInnerTexts()) {
    assert.match(agents, /coder-1/);
    assert.doesNotMatch(agents, /coder-2|planner/);
  }

  // The group's lines open in Explore → Logs.
  await page.locator('.error-group a', { hasText: 'View the lines' }).first().click();
  await page.waitForURL(/\/explore\/logs\?query=level/);
  await page.locator('.logs-list > .logs-line').first().waitFor();
  assert.deepEqual(errors, []);
});

test('a group is resolved from the page, leaves the list, and shows again when asked for', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/errors?from=now-7h&to=now`);
  const groups = page.locator('.error-group');
  await groups.first().waitFor();
  const before = await groups.count();
  const value = page.locator('.error-group', { hasText: 'ValueError' }).first();
  const fingerprint = await value.getAttribute('data-fingerprint');
  await value.locator('button[name="error-resolved"]').click();
  await page.locator(`.error-group[data-fingerprint="${fingerprint}"]`).waitFor({ state: 'detached' });
  assert.equal(await groups.count(), before - 1);
  assert.match(await page.locator('p[aria-live]').innerText(), /1 resolved or ignored not shown/);
  const state = await (await session.portal.fetch(`${session.portal.url}/api/logs/errors/${fingerprint}`)).json();
  assert.equal(state.status, 'resolved');

  // Shown on request, with its status; "Reopen" puts it back.
  await page.locator('input[name="show-all"]').check();
  await page.waitForURL(/all=1/);
  const resolved = page.locator(`.error-group[data-fingerprint="${fingerprint}"]`);
  await resolved.waitFor();
  const status = await resolved.getAttribute('data-status');
  await page.screenshot({ path: `${SHOTS}/errors-resolved.png`, fullPage: true });
  if (status === 'resolved') {
    await resolved.locator('button[name="error-open"]').click();
    await page.locator(`.error-group[data-fingerprint="${fingerprint}"][data-status="open"]`).waitFor();
  } else {
    // The demo failed that way again since: regressed, and it can be resolved again.
    assert.equal(status, 'regressed');
    assert.equal(await resolved.locator('button[name="error-resolved"]').count(), 1);
  }
  assert.deepEqual(errors, []);
});

test('"Alert on new error groups" opens a ready log rule that counts the announcements of new groups', async () => {
  // The demo's failures were new when it started: each group was announced once.
  const search = await session.portal.fetch(
    `${session.portal.url}/api/logs/search?query=${encodeURIComponent('portal_event:new_error_group')}&from=now-7h&to=now%2B5m&limit=100`,
  );
  const announced = (await search.json()).lines;
  assert.ok(announced.length >= 3, JSON.stringify(announced));
  assert.equal(new Set(announced.map((l) => l.fields.fingerprint)).size, announced.length, 'each group once');
  assert.ok(announced.every((l) => l.fields.error_kind && l.body.startsWith('new error group in ')));

  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/explore/errors?from=now-7h&to=now`);
  await page.locator('.error-group').first().waitFor();
  await page.click('a.error-alert-link');
  await page.waitForURL(/\/alerting\/rules\/new\?template=new-error-groups/);
  await page.locator('input[name="log_selector"]').waitFor();
  assert.equal(await page.inputValue('input[name="log_selector"]'), 'portal_event="new_error_group"');
  assert.equal(
    await page.locator('.rule-query-preview').textContent(),
    'sum by (fingerprint, error_kind) (count_over_time({portal_event="new_error_group"} [10m]))',
  );
  await page.screenshot({ path: `${SHOTS}/new-error-group-rule.png`, fullPage: true });
  await page.click('button[name="save"]');
  await page.waitForURL(/\/alerting\/rules\/(?!new)[a-z0-9]+$/);
  const uid = page.url().split('/').pop();
  const saved = await (await session.portal.fetch(`${session.portal.url}/api/alerting/rules/${uid}`)).json();
  assert.equal(saved.rule.signal, 'logs');
  assert.equal(saved.rule.name, 'NewErrorGroup');
  assert.deepEqual(saved.rule.simple_logs.group_by, ['fingerprint', 'error_kind']);
  await session.portal.fetch(`${session.portal.url}/api/alerting/rules/${uid}`, { method: 'DELETE' });
  assert.deepEqual(errors, []);
});
