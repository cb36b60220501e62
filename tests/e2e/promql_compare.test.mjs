// PromQL against a stock Prometheus 2.42 over the same samples: Prometheus scrapes a scripted
// target (counters that reset, a series that ends, one that appears late, a gap where the target
// fails and every series goes stale) and remote-writes what it stores to the portal. The same
// instant and range queries, with `@ start()`/`@ end()`, offsets and `timestamp()`, must give the
// same answers on both, and the same error types.
import test from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { makeDataDir, startPortal } from './lib/portal.mjs';
import { scrapeAndWrite, startPrometheus } from './lib/prometheus.mjs';

const SCRAPING_MS = 28_000;

/**
 * The scrape target: what it exposes depends on the scrape's number and the time since the first
 * scrape (`target.started`).
 */
function startTarget() {
  const target = { started: null };
  let scrapes = 0;
  const server = createServer((req, res) => {
    target.started ??= Date.now();
    const elapsed = (Date.now() - target.started) / 1000;
    if (elapsed >= 16 && elapsed < 20) {
      res.writeHead(503).end('down for a moment');
      return;
    }
    const k = scrapes++;
    // A counter that starts far from zero and resets to 500 after 12 s (values stay far from
    // zero, where Prometheus 2.42 and later versions extrapolate rate() differently).
    const a = elapsed < 12 ? 1000 + 3 * k : 500 + 2 * k;
    const lines = [
      '# TYPE cmp_requests_total counter',
      `cmp_requests_total{path="/a"} ${a}`,
    ];
    // A series that ends after 10 s: Prometheus writes a staleness marker for it.
    if (elapsed < 10) lines.push(`cmp_requests_total{path="/b"} ${2000 + 5 * k}`);
    lines.push('# TYPE cmp_temperature gauge');
    for (const room of ['hall', 'lab']) {
      lines.push(`cmp_temperature{room="${room}"} ${(20 + 5 * Math.sin(k / 3) + (room === 'lab' ? 2.5 : 0)).toFixed(3)}`);
    }
    // A series that appears late.
    if (elapsed >= 8) lines.push('# TYPE cmp_late gauge', `cmp_late ${k * 0.5}`);
    res.writeHead(200, { 'content-type': 'text/plain; version=0.0.4' }).end(`${lines.join('\n')}\n`);
  });
  return new Promise((resolve) => {
    server.listen(0, '127.0.0.1', () => resolve(Object.assign(target, { server, address: `127.0.0.1:${server.address().port}` })));
  });
}

async function ask(base, path, params, headers = {}) {
  const response = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...headers },
    body: new URLSearchParams(params).toString(),
  });
  return { status: response.status, body: await response.json() };
}

const sameNumber = (x, y) =>
  (Number.isNaN(x) && Number.isNaN(y)) || x === y || Math.abs(x - y) <= 1e-9 * Math.max(1, Math.abs(x));

/** The result as [labels, [[t, v], ...]] pairs sorted by labels, for vectors and matrices. */
function canonical(data) {
  const key = (metric) => JSON.stringify(Object.entries(metric).sort());
  if (data.resultType === 'scalar') return [['', [[data.result[0], Number(data.result[1])]]]];
  const series = data.result.map((s) => [key(s.metric), (s.values ?? [s.value]).map(([t, v]) => [t, Number(v)])]);
  return series.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
}

function assertSame(what, theirs, ours) {
  assert.equal(ours.status, theirs.status, `${what}: status ${ours.status} vs Prometheus ${theirs.status}: ${JSON.stringify(ours.body)} vs ${JSON.stringify(theirs.body)}`);
  if (theirs.body.status !== 'success') {
    assert.equal(ours.body.errorType, theirs.body.errorType, `${what}: ${ours.body.error} vs Prometheus ${theirs.body.error}`);
    return;
  }
  assert.equal(ours.body.data.resultType, theirs.body.data.resultType, what);
  const [a, b] = [canonical(theirs.body.data), canonical(ours.body.data)];
  assert.deepEqual(b.map((s) => s[0]), a.map((s) => s[0]), `${what}: series`);
  for (let i = 0; i < a.length; i++) {
    const [pa, pb] = [a[i][1], b[i][1]];
    assert.deepEqual(pb.map((p) => p[0]), pa.map((p) => p[0]), `${what} ${a[i][0]}: timestamps`);
    for (let j = 0; j < pa.length; j++) {
      assert.ok(sameNumber(pa[j][1], pb[j][1]), `${what} ${a[i][0]} at ${pa[j][0]}: portal ${pb[j][1]}, Prometheus ${pa[j][1]}`);
    }
  }
}

test('PromQL answers match Prometheus 2.42 over counter resets, ended and late series, and a scrape gap', async (t) => {
  const { dir, cleanup } = makeDataDir();
  t.after(cleanup);
  const target = await startTarget();
  t.after(() => target.server.close());
  const portal = await startPortal({ dataDir: dir, env: { PORTAL_SCRAPE_SELF: 'false' } });
  let prometheus;
  try {
    prometheus = await startPrometheus(await scrapeAndWrite({ portal, job: 'scripted', target: target.address }));
    while (target.started === null) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, SCRAPING_MS));
    // Every sample up to `end` has reached the portal (batches go out every second).
    await new Promise((r) => setTimeout(r, 4_000));
    const start = Math.ceil(target.started / 1000) + 2;
    const end = Math.floor(target.started / 1000) + Math.floor(SCRAPING_MS / 1000) - 1;
    const auth = { authorization: `Bearer ${portal.token}` };

    const series = '{__name__=~"cmp_.*"}';
    const queries = [
      series,
      'up',
      'rate(cmp_requests_total[5s])',
      'increase(cmp_requests_total[10s])',
      'resets(cmp_requests_total[30s])',
      'irate(cmp_requests_total[5s])',
      'sum by (path) (rate(cmp_requests_total[6s] offset 2s))',
      'cmp_requests_total - cmp_requests_total offset 3s',
      'timestamp(cmp_requests_total)',
      'timestamp(cmp_late)',
      'timestamp(cmp_temperature offset 4s)',
      'max_over_time(cmp_temperature[10s])',
      'avg_over_time(cmp_temperature[7s]) - min_over_time(cmp_temperature[7s])',
      'last_over_time(cmp_requests_total[5s])',
      'count_over_time(up[5s])',
      'absent(cmp_late)',
      'absent_over_time(cmp_late[3s])',
      'changes(cmp_temperature[8s])',
      'deriv(cmp_temperature[6s])',
      'sum(cmp_temperature) by (room) / on(room) group_left count(cmp_temperature) by (room)',
      'rate(cmp_requests_total[10s] @ end())',
      'rate(cmp_requests_total[10s] @ start() offset -8s)',
      'cmp_temperature @ start()',
      'cmp_temperature @ end() - cmp_temperature',
      'timestamp(cmp_temperature @ end())',
      'max_over_time(rate(cmp_requests_total[3s])[8s:2s])',
      'max_over_time(rate(cmp_requests_total[3s])[8s:2s] @ end())',
    ];
    for (const query of queries) {
      for (const at of [start + 3, start + 9, end - 9, end - 2]) {
        const params = { query, time: String(at) };
        const [theirs, ours] = await Promise.all([ask(prometheus.url, '/api/v1/query', params), ask(portal.url, '/api/v1/query', params, auth)]);
        assertSame(`${query} at ${at}`, theirs, ours);
      }
      for (const step of ['1', '3']) {
        const params = { query, start: String(start), end: String(end), step };
        const [theirs, ours] = await Promise.all([ask(prometheus.url, '/api/v1/query_range', params), ask(portal.url, '/api/v1/query_range', params, auth)]);
        assertSame(`${query} over [${start}, ${end}] every ${step}s`, theirs, ours);
        // Two empty answers would agree on nothing: each query has data over the range.
        assert.ok(theirs.body.data.result.length > 0, `${query} has a result on Prometheus`);
      }
    }

    // The same errors, of the same type: parse errors are bad_data (400); what only evaluation
    // finds is an execution error (422).
    for (const query of [
      'rate(',
      'cmp_requests_total[5s]',
      'sum(cmp_temperature',
      'cmp_temperature + on() cmp_requests_total',
      'cmp_temperature * on() group_left cmp_requests_total',
      'label_replace(cmp_temperature, "1bad", "x", "", "")',
      'label_replace(cmp_temperature, "room", "same", "", "")',
    ]) {
      const params = { query, start: String(start), end: String(end), step: '1' };
      const [theirs, ours] = await Promise.all([ask(prometheus.url, '/api/v1/query_range', params), ask(portal.url, '/api/v1/query_range', params, auth)]);
      assert.notEqual(theirs.body.status, 'success', `${query} fails on Prometheus`);
      assertSame(`${query} (an error)`, theirs, ours);
    }
  } finally {
    await prometheus?.stop();
    assert.equal((await portal.stop()).code, 0);
  }
});
