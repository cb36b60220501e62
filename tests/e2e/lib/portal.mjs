// Starts the real portal binary (PORTAL_BIN) on a free port with its embedded PostgreSQL in a
// data directory, and stops it the way a person does: SIGINT.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export const PORTAL_BIN = process.env.PORTAL_BIN;
if (!PORTAL_BIN) throw new Error('PORTAL_BIN must name the portal binary to test');

export async function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** A data directory the unprivileged database user can reach; removed by `cleanup`. */
export function makeDataDir() {
  const dir = mkdtempSync(join(tmpdir(), 'portal-e2e-'));
  chmodSync(dir, 0o755);
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Starts the portal and resolves once it prints its URL. */
export async function startPortal({ dataDir, port, env = {} }) {
  port ??= await freePort();
  const child = spawn(PORTAL_BIN, [], {
    env: {
      PATH: process.env.PATH,
      HOME: process.env.HOME,
      PORTAL_SITE_ROOT: process.env.PORTAL_SITE_ROOT ?? '',
      PORTAL_LISTEN: `127.0.0.1:${port}`,
      PORTAL_DATA_DIR: dataDir,
      PORTAL_LOG: 'info',
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logLines = [];
  let stderrTail = '';
  child.stderr.setEncoding('utf8');
  child.stderr.on('data', (chunk) => {
    stderrTail += chunk;
    const lines = stderrTail.split('\n');
    stderrTail = lines.pop();
    logLines.push(...lines);
  });
  const exited = new Promise((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  const url = await new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`portal did not start in 90s:\n${logLines.join('\n')}`)), 90_000);
    let out = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk) => {
      out += chunk;
      const match = out.match(/Portal is running at (http:\/\/\S+)/);
      if (match) {
        clearTimeout(timer);
        resolve(match[1]);
      }
    });
    exited.then(({ code }) => {
      clearTimeout(timer);
      reject(new Error(`portal exited with ${code} during start-up:\n${logLines.join('\n')}`));
    });
  });
  return {
    url,
    pid: child.pid,
    logLines,
    /** Sends SIGINT and resolves with the exit status. */
    async stop() {
      if (child.exitCode !== null) return exited;
      child.kill('SIGINT');
      let timer;
      const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => reject(new Error('portal did not stop in 60s')), 60_000);
      });
      try {
        return await Promise.race([exited, timeout]);
      } finally {
        clearTimeout(timer);
      }
    },
  };
}

/** PIDs of processes whose command line mentions `text`. */
export function processesMentioning(text) {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
