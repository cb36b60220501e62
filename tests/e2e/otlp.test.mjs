// The OpenTelemetry Python SDK exports metrics to the portal over OTLP/HTTP (protobuf, gzip
// and plain, cumulative and delta temporality); PromQL sees them under Prometheus' names.
import test from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { makeDataDir, startPortal } from './lib/portal.mjs';

const python = join(process.env.PORTAL_OTEL_VENV ?? join(homedir(), '.cache/portal-tools/otel'), 'bin/python');
const script = new URL('../otel/send_metrics.py', import.meta.url).pathname;

async function query(portal, promql) {
  const response = await portal.fetch(`${portal.url}/api/v1/query?query=${encodeURIComponent(promql)}`);
  const body = await response.json();
  assert.equal(body.status, 'success', JSON.stringify(body));
  return body.data.result;
}

async function valueOf(portal, promql) {
  const result = await query(portal, promql);
  assert.equal(result.length, 1, `${promql}: ${JSON.stringify(result)}`);
  return Number(result[0].value[1]);
}

for (const [temporality, encoding] of [['cumulative', 'gzip'], ['delta', 'none']]) {
  test(`the OpenTelemetry SDK sends ${temporality} metrics (${encoding})`, async () => {
    const { dir, cleanup } = makeDataDir();
    const portal = await startPortal({ dataDir: dir });
    try {
      // Without a token the SDK's export is refused and the script says so.
      assert.throws(
        () => execFileSync(python, [script, `${portal.url}/v1/metrics`, temporality, encoding], { encoding: 'utf8', stdio: 'pipe' }),
        /failed|401|Unauthorized/i,
      );
      // With the header the Connect page gives, in the environment every SDK reads.
      const token = await portal.makeToken(`otel ${temporality}`, ['ingest']);
      const out = execFileSync(python, [script, `${portal.url}/v1/metrics`, temporality, encoding], {
        encoding: 'utf8',
        env: { ...process.env, OTEL_EXPORTER_OTLP_METRICS_HEADERS: `Authorization=Bearer%20${token}` },
      });
      assert.match(out, /exported/);
      const sel = '{job="otel-agents", instance="worker-1", agent_id="a1"}';
      // Two rounds of 3 tasks: 6 whichever temporality the SDK used.
      assert.equal(await valueOf(portal, `agent_tasks_total${sel.replace('}', ', status="ok"}')}`), 6);
      assert.equal(await valueOf(portal, `agent_inflight${sel}`), 4);
      assert.equal(await valueOf(portal, `agent_task_duration_seconds_count${sel}`), 6);
      assert.equal(await valueOf(portal, `agent_task_duration_seconds_bucket{agent_id="a1", le="5"}`), 6);
      assert.equal(await valueOf(portal, `agent_memory_usage_bytes${sel}`), 1024);
      // Exponential buckets merged to powers of two: 12 ms ≤ 16, 40 ≤ 64, 90 ≤ 128.
      assert.equal(await valueOf(portal, 'agent_llm_latency_milliseconds_bucket{model="small", le="16"}'), 2);
      assert.equal(await valueOf(portal, 'agent_llm_latency_milliseconds_bucket{model="small", le="64"}'), 4);
      // The SDK's default buckets put all six in (0, 5]: the median interpolates to 2.5.
      assert.equal(await valueOf(portal, 'histogram_quantile(0.5, agent_task_duration_seconds_bucket)'), 2.5);
      const info = await query(portal, 'target_info{job="otel-agents"}');
      assert.equal(info[0].metric.deployment, 'test');
      const meta = await (await portal.fetch(`${portal.url}/api/v1/metadata?metric=agent_tasks_total`)).json();
      assert.equal(meta.data.agent_tasks_total[0].type, 'counter');
    } finally {
      assert.equal((await portal.stop()).code, 0);
      cleanup();
    }
  });
}
