// The real portal binary with its embedded PostgreSQL: health, metrics that promtool accepts,
// JSON logs that carry the caller's trace, a clean stop, and a database that outlives restarts.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { makeDataDir, processesMentioning, startPortal } from './lib/portal.mjs';

const TRACE_ID = '4bf92f3577b34da6a3ce929d0e0e4736';

async function getJson(url, headers = {}) {
  const response = await fetch(url, { headers });
  assert.equal(response.status, 200, `${url} answered ${response.status}`);
  return response.json();
}

test('the portal serves, reports on itself, stops cleanly and keeps its database across restarts', async (t) => {
  const { dir, cleanup } = makeDataDir();
  t.after(cleanup);

  const first = await startPortal({ dataDir: dir });
  let before;
  try {
    assert.deepEqual(await getJson(`${first.url}/healthz`), { status: 'ok' });
    assert.equal((await getJson(`${first.url}/readyz`)).status, 'ready');

    const metrics = await (await fetch(`${first.url}/metrics`)).text();
    // promtool exits non-zero when the exposition does not parse or breaks its lint rules.
    execFileSync('promtool', ['check', 'metrics'], { input: metrics });
    assert.match(metrics, /^process_resident_memory_bytes \d/m);
    assert.match(metrics, /^portal_db_pool_connections\{state="idle"\} \d/m);

    before = await getJson(`${first.url}/api/portal/status`, {
      authorization: `Bearer ${first.token}`,
      traceparent: `00-${TRACE_ID}-00f067aa0ba902b7-01`,
      'x-request-id': 'e2e-status-call',
    });
    assert.equal(before.database.mode, 'embedded');
    assert.equal(before.database.reachable, true);
    assert.ok(before.database.data_directory.startsWith(dir));
  } finally {
    const exit = await first.stop();
    assert.equal(exit.code, 0, `portal exited with ${JSON.stringify(exit)}`);
  }

  const logged = first.logLines
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l))
    .find((entry) => entry.span?.request_id === 'e2e-status-call');
  assert.ok(logged, 'the request is logged as JSON with its request id');
  assert.equal(logged.span.trace_id, TRACE_ID, 'the log line carries the caller\'s trace id');
  assert.equal(logged.span.route, '/api/portal/status');
  assert.deepEqual(processesMentioning(dir), [], 'no PostgreSQL process is left behind');

  const second = await startPortal({ dataDir: dir });
  try {
    const after = await getJson(`${second.url}/api/portal/status`, { authorization: `Bearer ${second.token}` });
    assert.equal(after.instance_id, before.instance_id, 'the restart reuses the database');
    assert.equal(after.initialized_at, before.initialized_at);
  } finally {
    assert.equal((await second.stop()).code, 0);
  }
  assert.deepEqual(processesMentioning(dir), []);
});

test('a second portal on the same data directory is refused with a clear message', async (t) => {
  const { dir, cleanup } = makeDataDir();
  t.after(cleanup);
  const first = await startPortal({ dataDir: dir });
  try {
    await assert.rejects(startPortal({ dataDir: dir }), /already running on .*another portal/);
    assert.equal((await fetch(`${first.url}/readyz`)).status, 200, 'the first portal is unharmed');
  } finally {
    assert.equal((await first.stop()).code, 0);
  }
  assert.deepEqual(processesMentioning(dir), []);
});
