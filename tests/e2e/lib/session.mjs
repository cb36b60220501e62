// One portal and one browser shared by the tests of a file: started before them, stopped (the
// portal by SIGINT, which must end cleanly) after them.
import test from 'node:test';
import assert from 'node:assert/strict';
import { makeDataDir, startPortal } from './portal.mjs';
import { launchBrowser } from './browser.mjs';

/**
 * Registers the hooks and returns an object whose `portal`, `browser` and `data` are set
 * once the hooks have run; `ready(portal)` may wait for data before the tests start.
 */
export function usePortalAndBrowser({ env = {}, ready } = {}) {
  const session = {};
  test.before(async () => {
    session.data = makeDataDir();
    session.portal = await startPortal({ dataDir: session.data.dir, env });
    if (ready) await ready(session.portal);
    session.browser = await launchBrowser();
    // The browser starts signed in as the first admin; tests of signing in use a context of
    // their own.
    if (session.portal.cookie) {
      await session.browser.context.addCookies([
        { name: 'portal_session', value: session.portal.cookie, url: session.portal.url },
      ]);
    }
  });
  test.after(async () => {
    await session.browser?.close();
    if (session.portal) assert.equal((await session.portal.stop()).code, 0);
    session.data?.cleanup();
  });
  return session;
}
