// Dashboard benchmarks on loopback against a release portal feeding itself the demo fleet:
//   1. panel images: latency of GET <panel>.png (query + drawing + PNG) per panel kind, and the
//      portal's resident memory before and after 250 renders;
//   2. a 12-panel dashboard over 6 h drawn in headless Chromium: time from navigation to every
//      panel drawn, cold (first load) and warm (median of 10);
//   3. auto-refresh every second for BENCH_REFRESH_SECONDS (default 300): the renderer process'
//      resident memory over time, in a Chromium with no DevTools client attached.
// Run through bench/dashboards.sh, which builds the release and points PORTAL_BIN at it.
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { spawn } from 'node:child_process';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { makeDataDir, startPortal } from '../tests/e2e/lib/portal.mjs';
import { launchBrowser } from '../tests/e2e/lib/browser.mjs';

const REFRESH_SECONDS = Number(process.env.BENCH_REFRESH_SECONDS ?? 300);

const rss = (pid) => {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kb = (key) => Number(status.match(new RegExp(`${key}:\\s+(\\d+)`))[1]);
  return { rss: kb('VmRSS') / 1024, hwm: kb('VmHWM') / 1024 };
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const p95 = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length * 0.95)];

const data = makeDataDir();
const portal = await startPortal({ dataDir: data.dir, env: { PORTAL_DEMO: 'true', PORTAL_LOG: 'warn' } });
try {
  for (const deadline = Date.now() + 60_000; ;) {
    const body = await (await portal.fetch(`${portal.url}/api/v1/query?query=count(agent_task_success_total)`)).json();
    if (body.data?.result?.length) break;
    if (Date.now() > deadline) throw new Error('no demo data');
    await new Promise((r) => setTimeout(r, 500));
  }

  // 1. Panel images.
  const overview = (await (await portal.fetch(`${portal.url}/api/dashboards/agent-overview`)).json()).dashboard;
  const before = rss(portal.pid);
  let renders = 0;
  for (const id of [9, 12, 3, 7, 13]) {
    const panel = overview.panels.find((p) => p.id === id);
    const url = `${portal.url}/api/dashboards/agent-overview/panels/${id}.png?from=now-6h&to=now&width=800&height=300`;
    const times = [];
    for (let i = 0; i < 55; i++) {
      const t0 = performance.now();
      const r = await portal.fetch(url);
      const bytes = await r.arrayBuffer();
      if (r.status !== 200 || bytes.byteLength < 1000) throw new Error(`${url}: ${r.status}`);
      if (i >= 5) times.push(performance.now() - t0);
      renders++;
    }
    console.log(`png ${panel.type.padEnd(10)} "${panel.title}" 6h 800x300: median ${median(times).toFixed(1)} ms, p95 ${p95(times).toFixed(1)} ms`);
  }
  const after = rss(portal.pid);
  console.log(`portal memory: RSS ${before.rss.toFixed(0)} -> ${after.rss.toFixed(0)} MiB over ${renders} renders (peak ${after.hwm.toFixed(0)} MiB)`);

  // 2. A 12-panel dashboard in the browser.
  const twelve = { uid: 'bench-12', title: 'Twelve panels', variables: overview.variables,
    panels: overview.panels.filter((p) => p.type !== 'row').slice(0, 12) };
  await portal.fetch(`${portal.url}/api/dashboards`, { method: 'POST', headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ dashboard: twelve, overwrite: true }) });
  const browser = await launchBrowser();
  await browser.context.addCookies([{ name: 'portal_session', value: portal.cookie, url: portal.url }]);
  const drawnAt = async (page) => page.evaluate(() => new Promise((resolve) => {
    const check = () => {
      const panels = [...document.querySelectorAll('.panel')];
      const done = panels.length >= 12 && panels.every((p) => p.querySelector('.ts-chart-svg svg, .panel-svg svg, .panel-table, .panel-text, .panel-empty, .panel-error'))
        && [...document.querySelectorAll('.panel-loading')].every((l) => l.classList.contains('hidden'));
      if (done) resolve(performance.now()); else requestAnimationFrame(check);
    };
    check();
  }));
  const loads = [];
  for (let i = 0; i < 11; i++) {
    const page = await browser.context.newPage();
    await page.goto(`${portal.url}/d/bench-12?from=now-6h&to=now&var-agent=$__all&var-window=1h`, { waitUntil: 'commit' });
    loads.push(await drawnAt(page));
    if (i === 0 && (await page.locator('.panel-error').count())) throw new Error('a panel failed');
    await page.close();
  }
  console.log(`12-panel dashboard, 6h, drawn in Chromium: cold ${loads[0].toFixed(0)} ms, warm median ${median(loads.slice(1)).toFixed(0)} ms (max ${Math.max(...loads.slice(1)).toFixed(0)} ms)`);

  await browser.close();

  // 3. Auto-refresh every second, in a Chromium with no DevTools client attached: Playwright's
  //    network tracking keeps every response body in the renderer, which grows by itself.
  //    Without DevTools there is no cookie to give it: it opens the dashboard's public link,
  //    which draws the same panels from the same stored queries.
  const link = await (await portal.fetch(`${portal.url}/api/dashboards/agent-overview/public-links`, {
    method: 'POST', headers: { 'content-type': 'application/json' }, body: '{}' })).json();
  const profile = mkdtempSync(join(tmpdir(), 'bench-chromium-'));
  const chromium = spawn(process.env.CHROMIUM ?? '/usr/bin/chromium', ['--headless', '--no-sandbox', '--disable-gpu',
    '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync',
    `--user-data-dir=${profile}`, '--window-size=1440,900',
    `${portal.url}${link.url}?from=now-1h&to=now&refresh=1s&var-agent=$__all&var-window=1h`], { stdio: 'ignore' });
  const renderers = () => readdirSync('/proc').filter((d) => /^\d+$/.test(d)).filter((pid) => {
    try { return readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes('--type=renderer'); } catch { return false; }
  });
  const renderer = () => Math.max(...renderers().map((pid) => { try { return rss(pid).rss; } catch { return 0; } }));
  await new Promise((r) => setTimeout(r, 15_000));
  for (let s = 0; s <= REFRESH_SECONDS; s += 60) {
    console.log(`refresh 1s, t=${String(s).padStart(3)}s: renderer RSS ${renderer().toFixed(0)} MiB`);
    if (s < REFRESH_SECONDS) await new Promise((r) => setTimeout(r, 60_000));
  }
  chromium.kill('SIGTERM');
  await new Promise((r) => chromium.once('exit', r));
  rmSync(profile, { recursive: true, force: true });
} finally {
  await portal.stop();
  data.cleanup();
}
