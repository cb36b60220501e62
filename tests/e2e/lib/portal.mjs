// Starts the real portal binary (PORTAL_BIN) on a free port with its embedded PostgreSQL in a
// data directory, and stops it the way a person does: SIGINT.
import { spawn, execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, chmodSync, readFileSync, existsSync } from 'node:fs';
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
  let stdout = '';
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
      stdout += chunk;
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
  const portal = {
    url,
    pid: child.pid,
    logLines,
    /** What the portal printed on standard output so far (its URL, the first password). */
    get stdout() {
      return stdout;
    },
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
    /** Kills the process outright (no drain, no clean stop) and resolves once it is gone. */
    async kill() {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      return exited;
    },
    /** `fetch` with the admin token this start made (see `signIn`). */
    fetch(target, init = {}) {
      const headers = { ...(init.headers ?? {}) };
      if (portal.token && !headers.authorization) headers.authorization = `Bearer ${portal.token}`;
      return fetch(target, { ...init, headers });
    },
    /** Makes an API token with `scopes`; its secret. */
    async makeToken(name, scopes) {
      const r = await portal.fetch(`${url}/api/auth/tokens`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ name, scopes }),
      });
      if (r.status !== 201) throw new Error(`token ${name}: ${r.status} ${await r.text()}`);
      return (await r.json()).secret;
    },
  };
  await signIn(portal, dataDir);
  return portal;
}

/**
 * Signs in as the first admin with the password the first start wrote to the data directory,
 * and makes an admin token for the test's own API calls: `portal.cookie`, `portal.token`.
 * Nothing is set when the file is gone or its password no longer works.
 */
export async function signIn(portal, dataDir) {
  const file = join(dataDir, 'admin-password');
  if (!existsSync(file)) return;
  portal.adminPassword = readFileSync(file, 'utf8').trim();
  const r = await fetch(`${portal.url}/api/auth/sign-in`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ login: 'admin', password: portal.adminPassword }),
  });
  if (r.status !== 200) return;
  portal.cookie = r.headers.get('set-cookie').split(';')[0].split('=')[1];
  const made = await fetch(`${portal.url}/api/auth/tokens`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', cookie: `portal_session=${portal.cookie}` },
    body: JSON.stringify({ name: 'e2e tests', scopes: ['admin'] }),
  });
  portal.token = (await made.json()).secret;
}

/** PIDs of processes whose command line mentions `text`. */
export function processesMentioning(text) {
  try {
    return execFileSync('pgrep', ['-f', text], { encoding: 'utf8' }).trim().split('\n').filter(Boolean);
  } catch {
    return []; // pgrep exits 1 when nothing matches
  }
}
