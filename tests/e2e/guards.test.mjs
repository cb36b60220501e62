// Hostile queries against the real binary (run against the debug and the release build): deep
// nesting and a runaway subquery are refused at once and the portal stays up; an abandoned slow
// query stops using the CPU; Ctrl-C during a slow query stops the portal within seconds.
import test from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { makeDataDir, startPortal } from './lib/portal.mjs';

/** A query cheap per step with very many steps: it runs for minutes unless stopped. */
const SLOW = 'count_over_time(vector(1)[10d:1s])';

async function query(portal, params, signal) {
  const response = await portal.fetch(`${portal.url}/api/v1/query_range`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams(params),
    signal,
  });
  return { status: response.status, body: await response.json() };
}

function slowRange() {
  const end = Math.floor(Date.now() / 1000);
  return { query: SLOW, start: String(end - 600), end: String(end), step: '1' };
}

/** CPU seconds the process has used (user + system), from /proc. */
function cpuSeconds(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

async function metric(url, series) {
  const text = await (await fetch(`${url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line ? Number(line.split(' ')[1]) : 0;
}

async function eventually(check, what, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (await check()) return;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('hostile queries are refused or stopped and the portal stays up', async (t) => {
  const { dir, cleanup } = makeDataDir();
  t.after(cleanup);
  const portal = await startPortal({ dataDir: dir, env: { PORTAL_SCRAPE_SELF: 'false' } });
  try {
    // The UI's files are compressed once at start-up; the CPU measured below must be the query's.
    await eventually(async () => (await metric(portal.url, 'portal_worker_up{worker="asset-warm-up"}')) === 0, 'the start-up compression', 60_000);
    const now = String(Math.floor(Date.now() / 1000));
    const range = { start: now, end: now, step: '15' };

    const parens = `${'('.repeat(50_000)}1${')'.repeat(50_000)}`;
    let started = Date.now();
    let answer = await query(portal, { ...range, query: parens });
    assert.equal(answer.status, 400);
    assert.match(answer.body.error, /levels deep/);
    assert.ok(Date.now() - started < 1000, `deep nesting took ${Date.now() - started} ms`);

    const chain = Array(5000).fill('up').join(' + ');
    started = Date.now();
    answer = await query(portal, { ...range, query: chain });
    assert.equal(answer.status, 400);
    assert.ok(Date.now() - started < 1000, `the operator chain took ${Date.now() - started} ms`);

    started = Date.now();
    answer = await query(portal, { ...range, query: 'rate(up[30d:1ms])' });
    assert.equal(answer.status, 422);
    assert.match(answer.body.error, /too many samples/);
    assert.ok(Date.now() - started < 1000, `the runaway subquery took ${Date.now() - started} ms`);

    assert.equal((await fetch(`${portal.url}/healthz`)).status, 200);

    // A slow query, abandoned by its client: the portal's CPU goes back to idle.
    const abandon = new AbortController();
    const pending = query(portal, slowRange(), abandon.signal).catch(() => null);
    await eventually(async () => (await metric(portal.url, 'portal_queries_running')) === 1, 'the slow query to start');
    abandon.abort();
    await pending;
    await eventually(async () => (await metric(portal.url, 'portal_queries_running')) === 0, 'the abandoned query to stop');
    const before = cpuSeconds(portal.pid);
    await new Promise((r) => setTimeout(r, 2000));
    const busy = cpuSeconds(portal.pid) - before;
    assert.ok(busy < 0.5, `the portal used ${busy.toFixed(2)} CPU seconds in 2 s after the query was abandoned`);

    // Ctrl-C during a slow query: the portal stops within seconds, not after the query.
    const during = query(portal, slowRange()).catch(() => null);
    await eventually(async () => (await metric(portal.url, 'portal_queries_running')) === 1, 'the second slow query to start');
    started = Date.now();
    const exit = await portal.stop();
    assert.equal(exit.code, 0);
    assert.ok(Date.now() - started < 10_000, `stopping took ${Date.now() - started} ms`);
    const last = await during;
    assert.equal(last?.status, 503);
  } finally {
    await portal.stop();
  }
});
