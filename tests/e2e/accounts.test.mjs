// Accounts in a real browser: the first start's printed password signs in and is changed; an
// admin adds a Viewer, who sees no button to save a dashboard or make a silence and whose
// direct API calls get 403; a team given a folder edits only that folder; a public link works
// signed out and opens nothing else; the Connect page makes an ingest token and shows the first
// series sent with it; the audit log lists what happened.
import test from 'node:test';
import assert from 'node:assert/strict';
import { mkdirSync } from 'node:fs';
import { launchBrowser, openPage, waitForHydration } from './lib/browser.mjs';
import { usePortalAndBrowser } from './lib/session.mjs';

const SHOTS = process.env.E2E_SCREENSHOTS ?? 'test-results';
mkdirSync(SHOTS, { recursive: true });

const session = usePortalAndBrowser();

/** Signs in through the sign-in page of `page` and waits to land on `landing`. */
async function signInThroughThePage(page, url, login, password, landing) {
  await page.goto(url);
  await page.waitForURL(/\/sign-in\?next=/);
  await waitForHydration(page);
  await page.locator('input[name=login]').fill(login);
  await page.locator('input[name=password]').fill(password);
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page.waitForURL(landing);
  await waitForHydration(page);
}

test('first start: sign in with the printed password, then change it', async () => {
  const { portal } = session;
  const printed = portal.stdout.match(/sign in as admin with the password (\S+)/);
  assert.ok(printed, `the first start prints the password:\n${portal.stdout}`);
  assert.equal(printed[1], portal.adminPassword, 'the file holds the same password');

  const browser = await launchBrowser();
  try {
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const errors = [];
    page.on('pageerror', (e) => errors.push(e.message));
    // A wrong password is refused on the page, saying only that something was wrong.
    await page.goto(`${portal.url}/settings`);
    await page.waitForURL(/\/sign-in\?next=%2Fsettings/);
    await waitForHydration(page);
    await page.locator('input[name=login]').fill('admin');
    await page.locator('input[name=password]').fill('not the password');
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByText('wrong login or password').waitFor();
    await page.screenshot({ path: `${SHOTS}/sign-in.png` });

    await page.locator('input[name=password]').fill(printed[1]);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(`${portal.url}/settings`);
    await waitForHydration(page);
    await page.locator('.session-login', { hasText: 'admin' }).waitFor();

    const next = 'a new passphrase for the admin';
    await page.locator('input[name=current-password]').fill(printed[1]);
    await page.locator('input[name=new-password]').fill(next);
    await page.getByRole('button', { name: 'Change password' }).click();
    await page.getByText('Password changed').waitFor();

    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.waitForURL(/\/sign-in/);
    await signInThroughThePage(page, `${portal.url}/dashboards`, 'admin', next, `${portal.url}/dashboards`);
    assert.deepEqual(errors, []);
  } finally {
    await browser.close();
  }
  // The change signed the admin's other sessions out, the shared browser's too: sign it in
  // again with the new password.
  const r = await fetch(`${portal.url}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'admin', password: 'a new passphrase for the admin' }),
  });
  assert.equal(r.status, 200);
  const cookie = r.headers.get('set-cookie').split(';')[0].split('=')[1];
  await session.browser.context.addCookies([{ name: 'portal_session', value: cookie, url: portal.url }]);
});

test('a Viewer sees no button to save a dashboard or make a silence, and the API refuses them', async () => {
  const { portal } = session;
  // The admin adds the Viewer on the Users page.
  const { page, errors } = await openPage(session.browser.context, `${portal.url}/settings/users`);
  await page.locator('input[name=new-login]').fill('vic');
  await page.locator('input[name=new-name]').fill('Vic Viewer');
  await page.locator('input[name=new-password]').fill('vic has a long password');
  await page.getByRole('button', { name: 'Add user' }).click();
  await page.locator('.users-table td', { hasText: 'vic' }).first().waitFor();
  assert.equal(await page.locator('select[aria-label="Role of vic"]').inputValue(), 'viewer');
  await page.screenshot({ path: `${SHOTS}/users.png`, fullPage: true });
  assert.deepEqual(errors, []);

  const browser = await launchBrowser();
  try {
    const viewer = browser.context.pages()[0] ?? (await browser.context.newPage());
    await signInThroughThePage(viewer, `${portal.url}/dashboards`, 'vic', 'vic has a long password', `${portal.url}/dashboards`);
    await viewer.locator('.session-role', { hasText: 'viewer' }).waitFor();
    // Editors' buttons are there in the page but never shown to a Viewer.
    await viewer.locator('.dashboard-link').first().waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'New dashboard' }).isVisible(), false);
    await viewer.goto(`${portal.url}/d/agent-overview`);
    await waitForHydration(viewer);
    await viewer.getByRole('button', { name: 'Share' }).waitFor();
    assert.equal(await viewer.getByRole('button', { name: 'Edit', exact: true }).isVisible(), false);
    await viewer.goto(`${portal.url}/alerting/silences`);
    await waitForHydration(viewer);
    await viewer.locator('.session-login', { hasText: 'vic' }).waitFor();
    assert.equal(await viewer.locator('button[name=new-silence]').isVisible(), false);
    await viewer.screenshot({ path: `${SHOTS}/viewer-silences.png`, fullPage: true });

    // What the page does not offer, the API refuses (a same-origin fetch with the session).
    const answers = await viewer.evaluate(async () => {
      const post = (path, body) =>
        fetch(path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })
          .then(async (r) => [r.status, (await r.json()).error?.message]);
      const now = Date.now();
      return {
        dashboard: await post('/api/dashboards', { dashboard: { title: 'Not mine', panels: [] } }),
        silence: await post('/api/alerting/silences', {
          matchers: [{ name: 'alertname', op: '=', value: 'X' }],
          starts_at: new Date(now).toISOString(),
          ends_at: new Date(now + 3_600_000).toISOString(),
          created_by: 'vic',
          comment: 'no',
        }),
        read: await fetch('/api/dashboards').then((r) => r.status),
      };
    });
    assert.equal(answers.dashboard[0], 403);
    assert.match(answers.dashboard[1], /vic cannot do this: it needs the editor role/);
    assert.equal(answers.silence[0], 403);
    assert.equal(answers.read, 200, 'a Viewer reads everything');
  } finally {
    await browser.close();
  }
});

test('a team given a folder on the Users page edits only that folder', async () => {
  const { portal } = session;
  // An Editor, and a dashboard in the folder the team will hold.
  const made = await portal.fetch(`${portal.url}/api/auth/users`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'eda', name: 'Eda Editor', role: 'editor', password: 'eda has a long password' }),
  });
  assert.equal(made.status, 201);
  const filed = await portal.fetch(`${portal.url}/api/dashboards`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dashboard: { title: 'Platform queues', folder: 'Platform', panels: [] } }),
  });
  assert.equal(filed.status, 201);

  const { page, errors } = await openPage(session.browser.context, `${portal.url}/settings/users`);
  await page.locator('input[name=team-name]').fill('platform');
  await page.getByRole('button', { name: 'Add team' }).click();
  await page.locator('select[aria-label="Add a member to platform"]').selectOption('eda');
  await page.locator('.teams-table .tag.member', { hasText: 'eda' }).waitFor();
  const picker = page.locator('select[aria-label="Add a member to platform"]');
  assert.equal(await picker.inputValue(), '', 'the picker is back at its placeholder');

  await page.getByRole('button', { name: 'Permissions of Platform' }).click();
  const editor = page.getByRole('group', { name: 'Grants of dashboards folder Platform' });
  await editor.locator('select[name=grant-who]').selectOption('team:platform');
  await editor.locator('select[name=grant-permission]').selectOption('edit');
  await editor.getByRole('button', { name: 'Add grant' }).click();
  await editor.getByText('team platform').waitFor();
  await editor.getByRole('button', { name: 'Save grants' }).click();
  await page.locator('.folders-table tr', { hasText: 'Platform' }).getByText('team platform: edit').waitFor();
  await page.screenshot({ path: `${SHOTS}/teams.png`, fullPage: true });
  assert.deepEqual(errors, []);

  // Eda edits the team's folder and nothing else; the Viewer no longer sees it.
  const signIn = async (login, password) => {
    const r = await fetch(`${portal.url}/api/auth/sign-in`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ login, password }),
    });
    assert.equal(r.status, 200);
    const cookie = r.headers.get('set-cookie').split(';')[0];
    return (path, init = {}) => fetch(`${portal.url}${path}`, {
      ...init,
      headers: { 'content-type': 'application/json', origin: portal.url, cookie, ...init.headers },
    });
  };
  const eda = await signIn('eda', 'eda has a long password');
  const save = (folder) => eda('/api/dashboards', {
    method: 'POST',
    body: JSON.stringify({ dashboard: { title: `Eda in ${folder || 'General'}`, folder, panels: [] } }),
  });
  assert.equal((await save('Platform')).status, 201);
  const elsewhere = await save('');
  assert.equal(elsewhere.status, 403);
  assert.match((await elsewhere.json()).error.message, /General/);
  const vic = await signIn('vic', 'vic has a long password');
  const seen = (await (await vic('/api/dashboards')).json()).map((d) => d.title);
  assert.ok(seen.includes('Agent overview'), seen.join(', '));
  assert.ok(!seen.includes('Platform queues'), 'a folder with grants is hidden from others');
});

test('a public link works signed out and opens nothing else', async () => {
  const { portal } = session;
  const r = await portal.fetch(`${portal.url}/api/dashboards/agent-overview/public-links`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: '{}',
  });
  const text = await r.text();
  assert.equal(r.status, 201, text);
  const link = JSON.parse(text);
  const browser = await launchBrowser();
  try {
    const { page, errors } = await openPage(browser.context, `${portal.url}${link.url}`);
    await page.getByText('Agent overview').first().waitFor();
    await page.locator('.panel').first().waitFor();
    assert.deepEqual(errors, []);
    // Everything else asks for a session.
    const api = await page.evaluate(() => Promise.all([
      fetch('/api/dashboards').then((r) => r.status),
      fetch('/api/dashboards/agent-overview').then((r) => r.status),
      fetch('/api/v1/query?query=up').then((r) => r.status),
    ]));
    assert.deepEqual(api, [401, 401, 401]);
    await page.goto(`${portal.url}/dashboards`);
    await page.waitForURL(/\/sign-in\?next=%2Fdashboards/);
  } finally {
    await browser.close();
  }
});

test('Connect a source makes an ingest token and shows the first series sent with it', async () => {
  const { portal } = session;
  const { page, errors } = await openPage(session.browser.context, `${portal.url}/connect`);
  await page.getByText('No series yet').waitFor();
  await page.getByRole('button', { name: 'Make an ingest token' }).click();
  const token = (await page.locator('.token-value').textContent()).trim();
  assert.match(token, /^pt_[0-9a-f]{64}$/);
  const snippets = await page.locator('.snippet-code').allTextContents();
  assert.ok(snippets.some((s) => s.includes(`credentials: ${token}`) && s.includes(`${portal.url}/api/v1/write`)), snippets.join('\n'));
  assert.ok(snippets.some((s) => s.includes(`Authorization=Bearer%20${token}`)));

  const ms = Date.now();
  const body = {
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'first-sender' } }] },
      scopeMetrics: [{
        metrics: [{
          name: 'jobs_waiting',
          gauge: { dataPoints: [{ asDouble: 3, timeUnixNano: `${BigInt(ms) * 1_000_000n}` }] },
        }],
      }],
    }],
  };
  const send = (headers) => fetch(`${portal.url}/v1/metrics`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: JSON.stringify(body),
  });
  assert.equal((await send({})).status, 401, 'nothing goes in without a token');
  assert.equal((await send({ authorization: `Bearer ${token}` })).status, 200);
  await page.locator('.arrived li', { hasText: 'first-sender' }).waitFor({ timeout: 15_000 });
  await page.screenshot({ path: `${SHOTS}/connect.png`, fullPage: true });
  assert.deepEqual(errors, []);
});

test('the audit log lists sign-ins, failures and changes with who made them', async () => {
  const { portal } = session;
  const { page, errors } = await openPage(session.browser.context, `${portal.url}/settings/audit`);
  await page.locator('.audit-table').waitFor();
  await page.locator('input[name=q]').fill('sign-in failed');
  await page.getByRole('button', { name: 'Filter' }).click();
  await page.locator('.audit-table td', { hasText: 'sign-in failed' }).first().waitFor();
  await page.locator('input[name=q]').fill('/api/auth/users');
  await page.getByRole('button', { name: 'Filter' }).click();
  // The Viewer was added on the page by the admin; the Editor through the API with the
  // tests' token, which the log names as the actor.
  const rows = page.locator('.audit-table tr').filter({ hasText: 'POST /api/auth/users' });
  const byAdmin = rows.filter({ hasText: '"login": "vic"' }).first();
  await byAdmin.waitFor();
  assert.match(await byAdmin.locator('td').nth(1).textContent(), /^admin$/);
  await byAdmin.locator('summary').click();
  assert.match(await byAdmin.locator('.audit-sides').textContent(), /"login": "vic"/);
  const byToken = rows.filter({ hasText: '"login": "eda"' }).first();
  assert.match(await byToken.locator('td').nth(1).textContent(), /^token:e2e tests$/);
  await page.screenshot({ path: `${SHOTS}/audit.png`, fullPage: true });
  assert.deepEqual(errors, []);
});
