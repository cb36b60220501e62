// A stock Prometheus (Debian's package) scrapes the portal and remote-writes to it: the samples,
// series and metadata arrive in the portal's database.
import test from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, makeDataDir, startPortal } from './lib/portal.mjs';

function psql(dataDir, sql) {
  return execFileSync('psql', ['-h', join(dataDir, 'postgres-run'), '-U', 'postgres', '-d', 'portal', '-Atc', sql], {
    encoding: 'utf8',
  }).trim();
}

async function eventually(check, what, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = check();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

test('a stock Prometheus remote-writes to the portal', async () => {
  const { dir, cleanup } = makeDataDir();
  const promDir = mkdtempSync(join(tmpdir(), 'portal-prometheus-'));
  const portal = await startPortal({ dataDir: dir });
  let prometheus;
  try {
    prometheus = await startPrometheus(portal, promDir);
    await checkArrivals(portal, dir);
  } finally {
    await prometheus?.stop();
    assert.equal((await portal.stop()).code, 0);
    rmSync(promDir, { recursive: true, force: true });
    cleanup();
  }
});

async function startPrometheus(portal, promDir) {
  const target = new URL(portal.url).host;
  writeFileSync(
    join(promDir, 'prometheus.yml'),
    `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: portal
    static_configs:
      - targets: ['${target}']
remote_write:
  - url: ${portal.url}/api/v1/write
    queue_config:
      batch_send_deadline: 1s
    metadata_config:
      send_interval: 1s
`,
  );
  const promPort = await freePort();
  const prometheus = spawn(
    'prometheus',
    [
      `--config.file=${join(promDir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(promDir, 'data')}`,
      `--web.listen-address=127.0.0.1:${promPort}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => prometheus.on('exit', resolve));
  return {
    async stop() {
      prometheus.kill('SIGTERM');
      await exited;
    },
  };
}

async function checkArrivals(portal, dir) {
  const target = new URL(portal.url).host;

  // Prometheus' own series about the scrape arrive, labelled as Prometheus labels them.
  const up = await eventually(
    () => psql(dir, "select s.labels::text from metric_series s join metric_sample m using (series_id) where s.metric_name = 'up' limit 1"),
    'the up series',
  );
  assert.deepEqual(JSON.parse(up), { instance: target, job: 'portal' });

  // The portal's request counter, scraped and sent back, holds the values the portal exposed.
  await eventually(
    () => Number(psql(dir, "select count(*) from metric_series where metric_name = 'portal_http_requests_total'")) > 0,
    'portal_http_requests_total',
  );
  const kind = await eventually(
    () => psql(dir, "select metric_type from metric_metadata where metric_name = 'portal_http_requests_total'"),
    'metadata',
  );
  assert.equal(kind, 'counter');

  const metrics = await (await fetch(`${portal.url}/metrics`)).text();
  assert.match(metrics, /portal_http_requests_total\{method="POST",route="\/api\/v1\/write",status="204"\} [1-9]/);
  assert.doesNotMatch(metrics, /route="\/api\/v1\/write",status="[45]\d\d"/, 'no write was refused');
}
