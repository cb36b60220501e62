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

/** One OTLP/JSON gauge point of `e2e_crash_marker`. */
function markerPoint(timestampMs, value) {
  return JSON.stringify({
    resourceMetrics: [{
      resource: { attributes: [{ key: 'service.name', value: { stringValue: 'crash-test' } }] },
      scopeMetrics: [{
        metrics: [{
          name: 'e2e_crash_marker',
          gauge: { dataPoints: [{ timeUnixNano: `${timestampMs}000000`, asDouble: value }] },
        }],
      }],
    }],
  });
}

test('a portal killed outright during writes starts again at once, as a supervisor restarts it, with every acknowledged sample', async (t) => {
  const { dir, cleanup } = makeDataDir();
  t.after(cleanup);
  const base = Date.now() - 30 * 60_000;
  const acknowledged = new Map();
  let next = 0;
  let portal = await startPortal({ dataDir: dir });
  try {
    for (let round = 0; round < 5; round++) {
      // Writes go on one after another while the kill lands; only answered ones count.
      const writer = (async () => {
        for (;;) {
          const n = next++;
          let response;
          try {
            response = await portal.fetch(`${portal.url}/v1/metrics`, {
              method: 'POST',
              headers: { 'content-type': 'application/json' },
              body: markerPoint(base + n * 1000, n),
            });
          } catch {
            return; // the connection died with the process
          }
          if (response.ok) acknowledged.set(base + n * 1000, n);
          else return;
        }
      })();
      await new Promise((resolve) => setTimeout(resolve, 400));
      await portal.kill();
      await writer;
      // The next start comes at once, as systemd's Restart=always does it.
      portal = await startPortal({ dataDir: dir });
    }
    assert.ok(acknowledged.size >= 10, `writes were acknowledged before each kill (${acknowledged.size})`);
    const query = encodeURIComponent('e2e_crash_marker[2h]');
    const body = await (await portal.fetch(`${portal.url}/api/v1/query?query=${query}`)).json();
    assert.equal(body.status, 'success', JSON.stringify(body));
    const stored = new Map(body.data.result.flatMap((s) => s.values.map(([ts, v]) => [Math.round(ts * 1000), Number(v)])));
    const lost = [...acknowledged].filter(([ts, v]) => stored.get(ts) !== v);
    assert.deepEqual(lost, [], `${lost.length} of ${acknowledged.size} acknowledged samples are missing after five kills`);
  } finally {
    assert.equal((await portal.stop()).code, 0);
  }
  assert.deepEqual(processesMentioning(dir), [], 'no PostgreSQL process is left behind');
});
