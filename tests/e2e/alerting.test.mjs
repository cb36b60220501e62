// Alerting in headless Chromium over the demo fleet: a person sets "queue depth above 100 for
// 2 minutes" in the rule form's simple mode, sees the preview mark when it would have fired over
// the stored history, saves it; the queue crosses the threshold; the alert goes pending, then
// firing; a webhook receiver (a real HTTP server here) gets Alertmanager's payload grouped as
// configured, then the resolved message. The built-in "Agent fleet" rules are listed.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { openPage, waitForHydration } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

async function demoHistory(portal) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    const r = await portal.fetch(`${portal.url}/api/v1/query?query=count(agent_queue_depth)`);
    const body = await r.json();
    if (body.data?.result?.length) return;
    if (Date.now() > deadline) throw new Error('the demo data never arrived');
    await new Promise((res) => setTimeout(res, 500));
  }
}

const session = usePortalAndBrowser({ env: { PORTAL_DEMO: 'true' }, ready: demoHistory });

/** Writes depths of the "e2e" queue over OTLP/HTTP JSON: [[ms, value], …]. */
async function writeDepth(points) {
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'queue-e2e' } }] },
      scopeMetrics: [{
        metrics: [{
          name: 'agent_queue_depth',
          gauge: {
            dataPoints: points.map(([ms, v]) => ({
              asDouble: v,
              timeUnixNano: `${BigInt(ms) * 1_000_000n}`,
              attributes: [{ key: 'queue_name', value: { stringValue: 'e2e' } }],
            })),
          },
        }],
      }],
    }],
  };
  const r = await session.portal.fetch(`${session.portal.url}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  assert.equal(r.status, 200, await r.text());
}

/** A webhook receiver on a free loopback port that keeps every JSON body. */
async function startReceiver() {
  const bodies = [];
  const server = createServer((req, res) => {
    let data = '';
    req.on('data', (c) => { data += c; });
    req.on('end', () => {
      try { bodies.push(JSON.parse(data)); } catch { bodies.push({ unreadable: data }); }
      res.end('ok');
    });
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    bodies,
    close: () => new Promise((r) => server.close(r)),
    async waitFor(check, ms) {
      const deadline = Date.now() + ms;
      for (;;) {
        const hit = bodies.find(check);
        if (hit) return hit;
        if (Date.now() > deadline) throw new Error(`no such notification in ${ms} ms; got ${JSON.stringify(bodies)}`);
        await new Promise((r) => setTimeout(r, 250));
      }
    },
  };
}

async function api(method, path, body) {
  const r = await session.portal.fetch(`${session.portal.url}${path}`, {
    method,
    headers: { 'content-type': 'application/json' },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await r.text();
  assert.ok(r.ok, `${method} ${path}: ${r.status} ${text}`);
  return text ? JSON.parse(text) : null;
}

test('the built-in Agent fleet rules are listed with their state and health', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/rules`);
  await page.waitForSelector('.rule-row');
  const names = await page.locator('.rule-name').allTextContents();
  for (const name of ['QueueDepthHigh', 'AgentTaskFailures', 'TaskDurationP95High', 'AgentDown', 'LlmDailyBudgetExceeded']) {
    assert.ok(names.includes(name), `${name} is listed: ${names}`);
  }
  // The evaluator runs them: each gets a health within an interval or two.
  await page.waitForFunction(() => [...document.querySelectorAll('.rule-row')]
    .every((r) => /OK|Error/.test(r.textContent)), null, { timeout: 90_000, polling: 1000 });
  assert.equal(await page.locator('.rule-row .status-bad').count(), 0, 'no built-in rule fails');
  await page.screenshot({ path: `${SHOTS}/alert-rules.png`, fullPage: true });

  // An "Alert list" panel on a dashboard lists the live alerts its matchers pick. The demo's
  // memory series arrive over OTLP a moment after the history the session waits for, so the
  // rule may need one more 30 s interval to go pending.
  const deadline = Date.now() + 90_000;
  while (!(await api('GET', '/api/alerting/alerts?matcher=alertname%3D%22AgentMemoryHigh%22')).length) {
    assert.ok(Date.now() < deadline, 'AgentMemoryHigh never went pending on the demo data');
    await new Promise((res) => setTimeout(res, 1000));
  }
  const saved = await api('POST', '/api/dashboards', {
    dashboard: {
      title: 'Fleet alerts',
      panels: [{
        id: 1, type: 'alertlist', title: 'Memory alerts', gridPos: { x: 0, y: 0, w: 12, h: 8 },
        options: { alert_matchers: 'alertname="AgentMemoryHigh"' },
      }],
    },
    message: 'alert list',
  });
  await page.goto(`${session.portal.url}/d/${saved.dashboard.uid}`);
  await waitForHydration(page);
  await page.locator('.alert-list-item').first().waitFor({ timeout: 30_000 });
  const items = await page.locator('.alert-list-item a').allTextContents();
  assert.ok(items.length >= 1 && items.every((n) => n === 'AgentMemoryHigh'), `${items}`);
  assert.deepEqual(errors, []);
});

test('contact points are made, tested and routed to on the Notifications page', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/notifications`);
  await page.getByRole('button', { name: 'New contact point' }).click();
  await page.fill('input[name="contact-name"]', 'team-hook');
  await page.press('input[name="contact-name"]', 'Tab');
  await page.fill('input[name="contact-url"]', receiver.url);
  await page.press('input[name="contact-url"]', 'Tab');
  await page.getByRole('button', { name: 'Send test' }).click();
  await page.locator('.contact-form [role="status"]', { hasText: 'Delivered' }).waitFor();
  const test = await receiver.waitFor((b) => b.groupLabels?.alertname === 'TestAlert', 10_000);
  assert.equal(test.version, '4');
  await page.getByRole('button', { name: 'Save contact point' }).click();
  await page.locator('td', { hasText: 'team-hook' }).first().waitFor();
  // Its URL (which may carry a token) is never shown again: the list and the form say it is
  // set, and a test or a save that leaves it blank uses the saved one.
  await page.locator('td', { hasText: 'URL configured (hidden)' }).first().waitFor();
  assert.ok(!(await page.content()).includes(receiver.url), 'the URL is not in the page');
  await page.locator('tr', { hasText: 'team-hook' }).getByRole('button', { name: 'Edit' }).click();
  const urlField = page.locator('input[name="contact-url"]');
  assert.equal(await urlField.inputValue(), '');
  assert.match(await urlField.getAttribute('placeholder'), /configured/);
  const tests = receiver.bodies.length;
  await page.getByRole('button', { name: 'Send test' }).click();
  await page.locator('.contact-form [role="status"]', { hasText: 'Delivered' }).waitFor();
  assert.equal(receiver.bodies.length, tests + 1, 'the test reached the saved URL');
  await page.getByRole('button', { name: 'Save contact point' }).click();
  await page.locator('.contact-form').waitFor({ state: 'detached' });
  // Route critical alerts to it; the default route goes there too.
  await page.selectOption('.policy-root select', 'team-hook');
  await page.getByRole('button', { name: 'Add a route' }).click();
  const row = page.locator('.routes-table tbody tr').last();
  await row.locator('input').first().fill('severity="critical"');
  await row.locator('input').first().press('Tab');
  await row.locator('select').selectOption('team-hook');
  await page.click('button[name="save-policy"]');
  await page.locator('[role="status"]', { hasText: 'Saved.' }).waitFor();
  const policy = await api('GET', '/api/alerting/policy');
  assert.equal(policy.root.receiver, 'team-hook');
  assert.deepEqual(policy.root.routes[0].matchers, [{ name: 'severity', op: '=', value: 'critical' }]);
  // The log shows the test that was delivered.
  await page.reload();
  await waitForHydration(page);
  await page.locator('.notification-log td', { hasText: 'delivered' }).first().waitFor({ timeout: 15_000 });
  await page.screenshot({ path: `${SHOTS}/notifications.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('a threshold set in the simple form previews, fires, notifies grouped, and resolves', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  await api('POST', '/api/alerting/contact-points', { name: 'ops-hook', type: 'webhook', url: receiver.url });
  await api('PUT', '/api/alerting/policy', {
    root: { receiver: 'ops-hook', group_by: ['alertname'], group_wait: '1s', group_interval: '5s', repeat_interval: '4h' },
  });
  // History: the e2e queue was above 100 for ten minutes three hours ago.
  const now = Date.now();
  const history = [];
  for (let m = 240; m >= 1; m -= 1) {
    const at = now - m * 60_000;
    history.push([at, m <= 190 && m > 180 ? 180 : 20]);
  }
  await writeDepth(history);

  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/rules/new`);
  await page.fill('input[name="name"]', 'E2eQueueDeep');
  await page.fill('input[name="metric"]', 'agent_queue_depth');
  await page.press('input[name="metric"]', 'Tab');
  await page.selectOption('select[name="aggregation"]', 'max');
  await page.fill('input[name="group_by"]', 'queue_name');
  await page.press('input[name="group_by"]', 'Tab');
  await page.fill('input[name="filter"]', 'queue_name="e2e"');
  await page.press('input[name="filter"]', 'Tab');
  await page.selectOption('select[name="condition"]', 'above');
  await page.fill('input[name="threshold"]', '100');
  await page.press('input[name="threshold"]', 'Tab');
  await page.fill('input[name="for"]', '2m');
  await page.press('input[name="for"]', 'Tab');
  await page.fill('input[name="interval"]', '5s');
  await page.press('input[name="interval"]', 'Tab');
  assert.equal(
    await page.locator('.rule-query-preview').textContent(),
    'max by (queue_name) (agent_queue_depth{queue_name="e2e"})',
  );
  // The preview replays the last 24 hours at the group's interval: one alert, three hours ago.
  await page.fill('input[name="interval"]', '1m');
  await page.press('input[name="interval"]', 'Tab');
  const summary = page.locator('.rule-preview-summary');
  await summary.waitFor();
  await page.waitForFunction(() => document.querySelector('.rule-preview-summary')?.dataset.alerts === '1', null, { timeout: 30_000 });
  assert.match(await summary.textContent(), /fired once/);
  assert.ok(await page.locator('.rule-preview .ts-chart-svg rect').count() > 0, 'the chart shades when it would have fired');
  await page.screenshot({ path: `${SHOTS}/alert-rule-form.png`, fullPage: true });

  // A wrong field is named where it is, and nothing is saved.
  await page.fill('input[name="for"]', 'two minutes');
  await page.press('input[name="for"]', 'Tab');
  await page.click('button[name="save"]');
  await page.locator('[data-field="for"] .field-error', { hasText: /duration/ }).waitFor();
  assert.equal((await api('GET', '/api/alerting/rules?query=E2eQueueDeep')).length, 0);
  // Saved with a shorter `for` than the preview's, so the live part below waits seconds, not
  // minutes, between pending and firing.
  await page.fill('input[name="for"]', '20s');
  await page.press('input[name="for"]', 'Tab');
  await page.fill('input[name="interval"]', '5s');
  await page.press('input[name="interval"]', 'Tab');
  await page.click('button[name="save"]');
  await page.waitForURL(/\/alerting\/rules\/(?!new$)[a-z0-9]+$/);
  const uid = page.url().split('/').pop();

  // The queue crosses the threshold and stays there: pending, then firing after 20 seconds.
  let writing = true;
  const feed = (async () => {
    while (writing) {
      await writeDepth([[Date.now(), 150]]);
      await new Promise((r) => setTimeout(r, 2000));
    }
  })();
  try {
    const rules = await page.context().newPage();
    await rules.goto(`${session.portal.url}/alerting/alerts?matcher=alertname%3D%22E2eQueueDeep%22`);
    await rules.locator('.alert-row[data-state="pending"]').waitFor({ timeout: 30_000 });
    await rules.screenshot({ path: `${SHOTS}/alerts-pending.png`, fullPage: true });
    await rules.locator('.alert-row[data-state="firing"]').waitFor({ timeout: 60_000 });
    const mine = (b) => b.groupLabels?.alertname === 'E2eQueueDeep';
    const firing = await receiver.waitFor((b) => mine(b) && b.status === 'firing', 30_000);
    assert.equal(firing.version, '4');
    assert.equal(firing.receiver, 'ops-hook');
    assert.deepEqual(firing.groupLabels, { alertname: 'E2eQueueDeep' });
    assert.equal(firing.alerts.length, 1);
    assert.equal(firing.alerts[0].labels.queue_name, 'e2e');
    assert.equal(firing.alerts[0].labels.severity, 'warning');
    assert.ok(firing.alerts[0].generatorURL.endsWith(`/alerting/rules/${uid}`));
    await rules.close();
  } finally {
    writing = false;
    await feed;
  }
  // The queue drains: one resolved message.
  await writeDepth([[Date.now(), 10]]);
  const mine = (b) => b.groupLabels?.alertname === 'E2eQueueDeep';
  const resolved = await receiver.waitFor((b) => mine(b) && b.status === 'resolved', 60_000);
  assert.equal(resolved.alerts[0].status, 'resolved');
  assert.equal(receiver.bodies.filter((b) => mine(b) && b.status === 'firing').length, 1, 'fired once');

  // The rule's page shows the history.
  await page.goto(`${session.portal.url}/alerting/rules/${uid}?from=now-15m&to=now`);
  await waitForHydration(page);
  await page.locator('[data-stat="fired"]', { hasText: '1' }).waitFor({ timeout: 20_000 });
  assert.ok(await page.locator('.state-span-firing').count() >= 1, 'the timeline shows the firing stretch');
  await page.screenshot({ path: `${SHOTS}/alert-rule-page.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('an alert is silenced from the Alerts page: the form is filled in, previews what it mutes, and the alert shows silenced', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/alerts?matcher=alertname%3D%22LlmDailyBudgetExceeded%22`);
  const row = page.locator('.alert-row').first();
  await row.waitFor({ timeout: 60_000 });
  const agent = (await row.locator('.label-tag', { hasText: 'agent_id=' }).textContent()).split('=')[1];
  await row.getByRole('link', { name: 'Silence' }).click();
  await page.waitForURL(/\/alerting\/silences\?matchers=/);
  const matchers = page.locator('input[name="silence-matchers"]');
  assert.match(await matchers.inputValue(), new RegExp(`agent_id="${agent}"`));
  await page.locator('.silence-preview-summary[data-alerts="1"]').waitFor({ timeout: 15_000 });
  await page.fill('input[name="silence-created-by"]', 'e2e');
  await page.fill('input[name="silence-comment"]', 'budget raised tomorrow');
  await page.press('input[name="silence-comment"]', 'Tab');
  await page.click('button[name="save-silence"]');
  await page.locator('.silence-group[data-state="active"] .silence-row').first().waitFor();
  await page.screenshot({ path: `${SHOTS}/silences.png`, fullPage: true });
  await page.goto(`${session.portal.url}/alerting/alerts?matcher=agent_id%3D%22${agent}%22`);
  await waitForHydration(page);
  await page.locator('.alert-row', { hasText: 'LlmDailyBudgetExceeded' }).locator('.badge', { hasText: 'Silenced' }).waitFor({ timeout: 15_000 });
  assert.deepEqual(errors, []);
});

test('a recurring maintenance window made in the form mutes the alerts it matches while the others are notified', async (t) => {
  const receiver = await startReceiver();
  t.after(() => receiver.close());
  await api('POST', '/api/alerting/contact-points', { name: 'window-hook', type: 'webhook', url: receiver.url });
  const policy = await api('GET', '/api/alerting/policy');
  policy.root.routes = [{ matchers: [{ name: 'alertname', op: '=', value: 'WindowQueueDeep' }], receiver: 'window-hook',
    group_by: ['alertname', 'queue_name'], group_wait: '0s', group_interval: '1s' }, ...(policy.root.routes ?? [])];
  policy.root.receiver ||= 'window-hook';
  await api('PUT', '/api/alerting/policy', policy);
  await api('POST', '/api/alerting/rules', {
    group: 'window-e2e', interval: '1s',
    rule: { name: 'WindowQueueDeep', query: 'max by (queue_name) (window_queue_depth)', for: '40s',
      condition: { type: 'above', threshold: 100 } },
  });
  const writeWindowDepths = async () => {
    const now = Date.now();
    const points = (queue) => ({ asDouble: 500, timeUnixNano: `${BigInt(now) * 1_000_000n}`,
      attributes: [{ key: 'queue_name', value: { stringValue: queue } }] });
    const r = await session.portal.fetch(`${session.portal.url}/v1/metrics`, {
      method: 'POST', headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ resourceMetrics: [{ scopeMetrics: [{ metrics: [{ name: 'window_queue_depth',
        gauge: { dataPoints: [points('window-a'), points('window-b')] } }] }] }] }),
    });
    assert.equal(r.status, 200, await r.text());
  };
  await writeWindowDepths();
  const feeding = setInterval(() => writeWindowDepths().catch(() => {}), 5_000);
  t.after(() => clearInterval(feeding));

  // Both queues' alerts are pending (the rule waits 40 s) before the window is made.
  for (const deadline = Date.now() + 30_000; ;) {
    const alerts = await api('GET', '/api/alerting/alerts');
    if (alerts.filter((a) => a.rule_name === 'WindowQueueDeep').length === 2) break;
    assert.ok(Date.now() < deadline, `the rule's alerts never went pending: ${JSON.stringify(alerts)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/silences`);
  await page.click('button[name="new-window"]');
  await page.fill('input[name="silence-matchers"]', 'alertname="WindowQueueDeep", queue_name="window-a"');
  await page.press('input[name="silence-matchers"]', 'Tab');
  // Open from ten minutes ago for an hour, every day, on UTC's clock (from yesterday, so a
  // window that opened before midnight counts).
  const hhmm = (d) => d.toISOString().slice(11, 16);
  const now = new Date();
  await page.fill('input[name="window-zone"]', 'UTC');
  await page.press('input[name="window-zone"]', 'Tab');
  await page.fill('input[name="window-start"]', hhmm(new Date(now - 10 * 60_000)));
  await page.press('input[name="window-start"]', 'Tab');
  await page.fill('input[name="window-end"]', hhmm(new Date(+now + 60 * 60_000)));
  await page.press('input[name="window-end"]', 'Tab');
  await page.uncheck('input[name="weekday-Sun"]');
  await page.fill('input[name="window-from"]', new Date(now - 86_400_000).toISOString().slice(0, 10));
  await page.press('input[name="window-from"]', 'Tab');
  // The next windows, the running one first.
  await page.locator('.occurrence[data-running="true"]').first().waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('.occurrence').count(), 5);
  // What it would mute: the pending alert of window-a, and the rule.
  await page.locator('.silence-preview-summary[data-alerts="1"]').waitFor({ timeout: 30_000 });
  await page.locator('.silence-preview a', { hasText: 'WindowQueueDeep' }).waitFor();
  await page.screenshot({ path: `${SHOTS}/maintenance-window-form.png`, fullPage: true });
  await page.fill('input[name="silence-created-by"]', 'e2e');
  await page.fill('input[name="silence-comment"]', 'nightly reindex of window-a');
  await page.press('input[name="silence-comment"]', 'Tab');
  await page.click('button[name="save-silence"]');
  const row = page.locator('.silence-group[data-state="active"] .silence-row[data-recurring="true"]');
  await row.waitFor({ timeout: 15_000 });
  assert.match(await row.textContent(), /Recurring/);
  await page.screenshot({ path: `${SHOTS}/maintenance-window.png`, fullPage: true });

  // Both fire after 40 s; only window-b is told.
  await receiver.waitFor((b) => b.groupLabels?.queue_name === 'window-b' && b.status === 'firing', 90_000);
  await new Promise((r) => setTimeout(r, 3_000));
  assert.ok(!receiver.bodies.some((b) => b.groupLabels?.queue_name === 'window-a'),
    `window-a is muted: ${JSON.stringify(receiver.bodies)}`);
  await page.goto(`${session.portal.url}/alerting/alerts?matcher=alertname%3D%22WindowQueueDeep%22`);
  await waitForHydration(page);
  await page.locator('.alert-row', { hasText: 'window-a' }).locator('.badge', { hasText: 'Silenced' }).waitFor({ timeout: 15_000 });
  assert.equal(await page.locator('.alert-row', { hasText: 'window-b' }).locator('.badge', { hasText: 'Silenced' }).count(), 0);

  // An inhibition rule is written in the same page's editor.
  await page.goto(`${session.portal.url}/alerting/silences`);
  await waitForHydration(page);
  await page.click('button[name="add-inhibit-rule"]');
  await page.fill('input[name="inhibit-source-0"]', 'alertname="AgentDown"');
  await page.fill('input[name="inhibit-target-0"]', 'alertname="AgentTaskFailures"');
  await page.fill('input[name="inhibit-equal-0"]', 'agent_id');
  await page.press('input[name="inhibit-equal-0"]', 'Tab');
  await page.click('button[name="save-inhibit-rules"]');
  await page.getByRole('status').filter({ hasText: 'Saved 1 inhibition rule.' }).waitFor();
  const rules = await api('GET', '/api/alerting/inhibit-rules');
  assert.deepEqual(rules[0].equal, ['agent_id']);
  assert.deepEqual(errors, []);
});

test('a log rule written in the simple form counts the demo\'s error lines, previews them and is saved as LogQL', async () => {
  const { page, errors } = await openPage(session.browser.context, `${session.portal.url}/alerting/rules/new`);
  await page.fill('input[name="name"]', 'E2eLogTimeouts');
  await page.selectOption('select[name="signal"]', 'logs');
  await page.fill('input[name="log_contains"]', 'TimeoutError');
  await page.press('input[name="log_contains"]', 'Tab');
  await page.selectOption('select[name="log_level"]', 'error');
  await page.fill('input[name="window"]', '10m');
  await page.press('input[name="window"]', 'Tab');
  await page.fill('input[name="group_by"]', 'service_name');
  await page.press('input[name="group_by"]', 'Tab');
  await page.selectOption('select[name="condition"]', 'above');
  await page.fill('input[name="threshold"]', '0');
  await page.press('input[name="threshold"]', 'Tab');
  assert.equal(
    await page.locator('.rule-query-preview').textContent(),
    'sum by (service_name) (count_over_time({} |= "TimeoutError" | level=~"error|fatal" [10m]))',
  );
  // The demo's agents log timeouts through the last hours: the replay fires (the demo's
  // history may still be loading, so refresh until it shows).
  const deadline = Date.now() + 60_000;
  for (;;) {
    await page.locator('.rule-preview-summary').waitFor({ timeout: 30_000 });
    const alerts = Number(await page.locator('.rule-preview-summary').getAttribute('data-alerts'));
    if (alerts >= 1) break;
    assert.ok(Date.now() < deadline, 'the preview never counted the demo\'s timeouts');
    await new Promise((r) => setTimeout(r, 2000));
    await page.click('.rule-preview-header button');
  }
  assert.ok(await page.locator('.rule-preview .ts-chart-svg rect').count() > 0, 'the chart shades when it would have fired');
  await page.screenshot({ path: `${SHOTS}/log-rule-form.png`, fullPage: true });
  await page.click('button[name="save"]');
  await page.waitForURL(/\/alerting\/rules\/(?!new$)[a-z0-9]+$/);
  const uid = page.url().split('/').pop();
  const saved = await api('GET', `/api/alerting/rules/${uid}`);
  assert.equal(saved.rule.signal, 'logs');
  assert.equal(saved.rule.simple_logs.contains, 'TimeoutError');
  // Its page links to the lines it counts in Explore -> Logs.
  await waitForHydration(page);
  const explore = await page.locator('.rule-details a', { hasText: 'Explore' }).getAttribute('href');
  assert.equal(decodeURIComponent(explore.replace(/\+/g, ' ')), '/explore/logs?query=level>=error "TimeoutError"');
  await api('DELETE', `/api/alerting/rules/${uid}`);
  assert.deepEqual(errors, []);
});
