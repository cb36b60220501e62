// A stock Prometheus (Debian's package) on a free loopback port, with the configuration a test
// gives it and a data directory of its own.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort } from './portal.mjs';

/**
 * A configuration that scrapes `target` (host:port) as `job` every second and remote-writes
 * everything to `portal` with an ingest token, batches going out every second; `extra` is
 * appended to the remote_write list.
 */
export async function scrapeAndWrite({ portal, job, target, extra = '' }) {
  const token = await portal.makeToken(`prometheus ${job}`, ['ingest']);
  return `global:
  scrape_interval: 1s
scrape_configs:
  - job_name: ${job}
    static_configs:
      - targets: ['${target}']
remote_write:
  - url: ${portal.url}/api/v1/write
    authorization:
      credentials: ${token}
    queue_config:
      batch_send_deadline: 1s
    metadata_config:
      send_interval: 1s
${extra}`;
}

/** Starts Prometheus with `config` (YAML text); resolves once its API answers. */
export async function startPrometheus(config) {
  const dir = mkdtempSync(join(tmpdir(), 'portal-prometheus-'));
  writeFileSync(join(dir, 'prometheus.yml'), config);
  const port = await freePort();
  const child = spawn(
    'prometheus',
    [
      `--config.file=${join(dir, 'prometheus.yml')}`,
      `--storage.tsdb.path=${join(dir, 'data')}`,
      `--web.listen-address=127.0.0.1:${port}`,
    ],
    { stdio: 'ignore' },
  );
  const exited = new Promise((resolve) => child.on('exit', resolve));
  const url = `http://127.0.0.1:${port}`;
  const deadline = Date.now() + 30_000;
  for (;;) {
    try {
      if ((await fetch(`${url}/-/ready`)).ok) break;
    } catch {
      // not listening yet
    }
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
      throw new Error('prometheus did not become ready in 30s');
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return {
    url,
    async stop() {
      child.kill('SIGTERM');
      await exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
