// Real log shippers deliver lines that search then finds with their labels, structured fields
// and trace ids: the OpenTelemetry Python SDK's log exporter (OTLP/HTTP, gzip and plain) and
// winston-loki from npm (Loki's push API, snappy protobuf and JSON). The same lines answer
// Loki's query API as Grafana's Loki data source asks.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeDataDir, startPortal } from './lib/portal.mjs';

const require = createRequire(import.meta.url);
const winston = require('winston');
const LokiTransport = require('winston-loki');

const python = join(process.env.PORTAL_OTEL_VENV ?? join(homedir(), '.cache/portal-tools/otel'), 'bin/python');
const script = new URL('../otel/send_logs.py', import.meta.url).pathname;

async function search(portal, query) {
  const params = new URLSearchParams({ query, from: 'now-1h', to: 'now+5m', limit: '100' });
  const response = await portal.fetch(`${portal.url}/api/logs/search?${params}`);
  assert.equal(response.status, 200, await response.clone().text());
  return (await response.json()).lines;
}

async function eventually(what, check) {
  const deadline = Date.now() + 10_000;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline) assert.fail(`${what} did not happen in 10 s`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('the OpenTelemetry Python SDK ships logs that search finds with fields and trace ids', async () => {
  const { dir, cleanup } = makeDataDir();
  const portal = await startPortal({ dataDir: dir });
  try {
    assert.throws(
      () => execFileSync(python, [script, `${portal.url}/v1/logs`, 'none'], { encoding: 'utf8', stdio: 'pipe' }),
      /failed|401/i,
      'without a token the export is refused',
    );
    const token = await portal.makeToken('otel logs', ['ingest']);
    const env = { ...process.env, OTEL_EXPORTER_OTLP_LOGS_HEADERS: `Authorization=Bearer%20${token}` };
    const traces = [];
    for (const encoding of ['gzip', 'none']) {
      const out = execFileSync(python, [script, `${portal.url}/v1/logs`, encoding], { encoding: 'utf8', env });
      traces.push(out.match(/exported ([0-9a-f]{32})/)[1]);
    }
    const lines = await search(portal, 'service:otel-agents');
    assert.equal(lines.length, 6, JSON.stringify(lines, null, 1));
    const failed = lines.find((l) => l.body === 'tool call failed' && l.trace_id === traces[0]);
    assert.ok(failed, 'the exception line carries its trace id');
    assert.equal(failed.level, 'error');
    assert.equal(failed.labels.service_name, 'otel-agents');
    assert.equal(failed.fields['agent.id'], 'coder-1');
    assert.equal(failed.fields['exception.type'], 'KeyError');
    assert.match(failed.fields['exception.stacktrace'], /Traceback[\s\S]*KeyError: 'missing'/);
    assert.match(failed.span_id, /^[0-9a-f]{16}$/);
    const slow = lines.find((l) => l.body === 'tool search slow: 1840 ms');
    assert.equal(slow.level, 'warn');
    // Field filters, the trace id and levels find them.
    assert.equal((await search(portal, 'agent.id:coder-1 level>=warn')).length, 4);
    assert.equal((await search(portal, `trace_id:${traces[1]}`)).length, 3);
    assert.equal((await search(portal, 'exception.type:KeyError')).length, 2);

    // Loki's query API, as Grafana asks: the OTLP resource is the stream.
    const params = new URLSearchParams({
      query: '{service_name="otel-agents"} |= "failed"',
      start: String((Date.now() - 3_600_000) * 1e6),
      end: String((Date.now() + 60_000) * 1e6),
      limit: '100',
      direction: 'backward',
    });
    const loki = await (await portal.fetch(`${portal.url}/loki/api/v1/query_range?${params}`)).json();
    assert.equal(loki.data.resultType, 'streams');
    const values = loki.data.result.flatMap((s) => s.values);
    assert.equal(values.length, 2);
    assert.equal(values[0][1], 'tool call failed');
  } finally {
    assert.equal((await portal.stop()).code, 0);
    cleanup();
  }
});

for (const json of [false, true]) {
  test(`winston-loki pushes ${json ? 'JSON' : 'snappy protobuf'} lines that search and Loki's API find`, async () => {
    const { dir, cleanup } = makeDataDir();
    const portal = await startPortal({ dataDir: dir });
    try {
      const errors = [];
      const send = (token) => {
        const logger = winston.createLogger({
          format: winston.format.json(),
          transports: [
            new LokiTransport({
              host: portal.url,
              json,
              batching: false,
              labels: { app: 'shop', env: 'test' },
              headers: token ? { authorization: `Bearer ${token}` } : {},
              onConnectionError: (e) => errors.push(e),
            }),
          ],
        });
        logger.info('order placed', { order_id: 'o-17', amount: 42.5, trace_id: '4bf92f3577b34da6a3ce929d0e0e4736' });
        logger.warn('payment retried', { order_id: 'o-17', attempt: 2 });
        logger.error('payment failed: card declined', { order_id: 'o-18' });
        return logger;
      };
      // Without a token every push is refused, and winston-loki says so.
      send(null);
      await eventually('three refusals', () => errors.length >= 3);
      assert.match(String(errors[0]?.message ?? errors[0]), /401/);
      assert.equal((await search(portal, 'app:shop')).length, 0);

      const token = await portal.makeToken(`winston ${json}`, ['ingest']);
      send(token);
      const lines = await eventually('three lines', async () => {
        const found = await search(portal, 'app:shop');
        return found.length === 3 && found;
      });
      const placed = lines.find((l) => l.body.startsWith('order placed {'));
      assert.deepEqual(placed.labels, { app: 'shop', env: 'test', level: 'info' });
      assert.equal(placed.level, 'info');
      assert.equal(placed.fields.order_id, 'o-17');
      // Loki's structured metadata (winston-loki's JSON mode sends the meta as such) is text.
      assert.equal(Number(placed.fields.amount), 42.5);
      assert.equal(placed.trace_id, '4bf92f3577b34da6a3ce929d0e0e4736');
      assert.equal((await search(portal, 'app:shop level:error declined')).length, 1);
      assert.equal((await search(portal, 'order_id:o-17 amount>40')).length, 1);

      // Loki's API: labels, a parser, a label filter and a metric query over the pushed lines.
      const range = `start=${(Date.now() - 3_600_000) * 1e6}&end=${(Date.now() + 60_000) * 1e6}`;
      const labels = await (await portal.fetch(`${portal.url}/loki/api/v1/labels?${range}`)).json();
      // The shop's stream, and the portal's own announcing the error's group as new.
      assert.deepEqual(labels.data, ['app', 'env', 'level', 'portal_event', 'service_name']);
      const q = encodeURIComponent('{app="shop"} | json | order_id="o-17"');
      const streams = await (await portal.fetch(`${portal.url}/loki/api/v1/query_range?${range}&query=${q}`)).json();
      assert.equal(streams.data.result.flatMap((s) => s.values).length, 2);
      const m = encodeURIComponent('sum by (level) (count_over_time({app="shop"}[1h]))');
      const now = Math.floor(Date.now() / 1000) + 30;
      const vector = await (await portal.fetch(`${portal.url}/loki/api/v1/query?query=${m}&time=${now}`)).json();
      const byLevel = Object.fromEntries(vector.data.result.map((r) => [r.metric.level, r.value[1]]));
      assert.deepEqual(byLevel, { info: '1', warn: '1', error: '1' });
    } finally {
      assert.equal((await portal.stop()).code, 0);
      cleanup();
    }
  });
}
