// What a first visit costs in headless Chromium against a release portal: for the start page and
// for a dashboard (the built-in Agent overview), the bytes transferred (compressed, as on the
// wire, headers included), the number of requests, and the time from navigation to interactive
// (`<body data-hydrated="true">`); cold (an empty cache) and again (the cache of the first
// visit). Each is measured over loopback and over an emulated 20 Mbit/s link with 40 ms of
// latency, a median of BENCH_VISITS visits (default 5), each in a fresh browser profile.
// Run through bench/first_visit.sh, which builds the release and points PORTAL_BIN at it.
import { makeDataDir, startPortal } from '../tests/e2e/lib/portal.mjs';
import { launchBrowser } from '../tests/e2e/lib/browser.mjs';

const VISITS = Number(process.env.BENCH_VISITS ?? 5);
const LINKS = {
  loopback: null,
  '20 Mbit/s, 40 ms': { offline: false, latency: 40, downloadThroughput: 20e6 / 8, uploadThroughput: 5e6 / 8 },
};
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Opens `url` (twice: cold, then with the first visit's cache) and measures both visits. */
async function visit(portal, url, link) {
  const browser = await launchBrowser();
  try {
    await browser.context.addCookies([{ name: 'portal_session', value: portal.cookie, url: portal.url }]);
    const page = browser.context.pages()[0] ?? (await browser.context.newPage());
    const cdp = await browser.context.newCDPSession(page);
    await cdp.send('Network.enable');
    if (link) await cdp.send('Network.emulateNetworkConditions', link);
    let bytes = 0;
    let requests = 0;
    let fromNetwork = 0;
    cdp.on('Network.loadingFinished', (e) => {
      bytes += e.encodedDataLength;
    });
    cdp.on('Network.responseReceived', (e) => {
      requests += 1;
      if (!e.response.fromDiskCache && !e.response.fromMemoryCache && e.response.status !== 304) fromNetwork += 1;
    });
    const measure = async (go) => {
      bytes = 0;
      requests = 0;
      fromNetwork = 0;
      const t0 = Date.now();
      await go();
      await page.waitForSelector('body[data-hydrated="true"]', { timeout: 120_000 });
      const interactive = Date.now() - t0;
      // Let requests the page makes after hydration (its data) finish before counting bytes.
      await page.waitForLoadState('networkidle');
      return { interactive, bytes, requests, fromNetwork };
    };
    const cold = await measure(() => page.goto(url));
    const again = await measure(() => page.goto(url));
    return { cold, again };
  } finally {
    await browser.close();
  }
}

const data = makeDataDir();
const portal = await startPortal({ dataDir: data.dir, env: { PORTAL_LOG: 'warn', PORTAL_SCRAPE_SELF: 'false' } });
try {
  for (const [name, path] of [['start page', '/'], ['dashboard', '/d/agent-overview']]) {
    for (const [linkName, link] of Object.entries(LINKS)) {
      const runs = [];
      for (let i = 0; i < VISITS; i++) runs.push(await visit(portal, `${portal.url}${path}`, link));
      for (const which of ['cold', 'again']) {
        const r = runs.map((x) => x[which]);
        console.log(
          `${name.padEnd(10)} ${linkName.padEnd(16)} ${which.padEnd(5)}: ` +
            `${(median(r.map((x) => x.bytes)) / 1024).toFixed(0)} KiB transferred, ` +
            `${median(r.map((x) => x.requests))} requests (${median(r.map((x) => x.fromNetwork))} from the network), ` +
            `interactive after ${median(r.map((x) => x.interactive))} ms (median of ${VISITS})`,
        );
      }
    }
  }
} finally {
  await portal.stop();
  data.cleanup();
}
