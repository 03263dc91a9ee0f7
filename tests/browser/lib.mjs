// lib.mjs — what every browser test file shares: Debian's chromium driven by
// playwright-core (no browser is ever downloaded), a fresh M31 node per
// file (tests/http/lib/node.mjs, $M31_BIN), and a page whose every
// request is watched: anything not for the node's own 127.0.0.1 port is
// blocked and recorded, console errors and uncaught exceptions are
// collected, and screenshots go to tests/artifacts/browser/.

import { after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium } from 'playwright-core';
import { REPO, startNode } from '../http/lib/node.mjs';

export const CHROMIUM = process.env.M31_CHROMIUM || '/usr/bin/chromium';
export const ARGS = ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
  '--disable-background-networking', '--disable-component-update', '--disable-sync'];
export const ARTIFACTS = join(REPO, 'tests/artifacts/browser');

/**
 * Gives a test file a node and a browser (started before its tests, both
 * stopped after). Returns a context filled in by the time tests run:
 * {node, browser, open()}; open() makes a fresh page on the console (see
 * watchPage) and answers its watcher.
 */
export function useConsole({ nodeArgs = [] } = {}) {
  const ctx = { node: null, browser: null, userDir: null, pages: [] };
  before(async () => {
    ctx.node = await startNode({ args: nodeArgs });
    ctx.userDir = await mkdtemp(join(tmpdir(), 'm31-chromium-'));
    ctx.browser = await chromium.launchPersistentContext(ctx.userDir, {
      executablePath: CHROMIUM,
      headless: true,
      args: ARGS,
      viewport: { width: 1400, height: 900 },
      colorScheme: 'light',
    });
    await mkdir(ARTIFACTS, { recursive: true });
  });
  after(async () => {
    try {
      for (const w of ctx.pages) await w.page.close({ runBeforeUnload: false }).catch(() => {});
      await ctx.browser?.close();
      // An exception thrown in the page fails the file, whichever test saw it.
      const thrown = ctx.pages.flatMap((w) => w.pageErrors);
      assert.deepEqual(thrown, [], `uncaught exceptions in the page:\n${thrown.join('\n')}`);
    } finally {
      if (ctx.userDir) await rm(ctx.userDir, { recursive: true, force: true });
      await ctx.node?.stop();
    }
  });
  ctx.open = async (hash = '') => {
    const w = await watchPage(ctx.browser, ctx.node.base);
    ctx.pages.push(w);
    await w.page.goto(`${ctx.node.base}/${hash}`);
    await w.page.waitForSelector('#node-info:not(:has-text("connecting"))');
    return w;
  };
  return ctx;
}

/**
 * A new page that records console errors, uncaught exceptions, every
 * request, and blocks (and records) any request that is not for base.
 */
export async function watchPage(browser, base) {
  const page = await browser.newPage();
  const w = { page, consoleErrors: [], pageErrors: [], requests: [], blocked: [] };
  page.on('console', (m) => {
    if (m.type() === 'error') w.consoleErrors.push(`${m.text()} (${m.location()?.url ?? ''})`);
  });
  page.on('pageerror', (e) => w.pageErrors.push(String(e && e.stack ? e.stack : e)));
  page.on('request', (r) => w.requests.push(r.url()));
  await page.route((url) => !`${url}`.startsWith(`${base}/`), (route) => {
    w.blocked.push(route.request().url());
    return route.abort('blockedbyclient');
  });
  return w;
}

/** Asserts nothing left the node's origin and no script threw. */
export function assertClean(w, { console: consoleToo = true } = {}) {
  const base = new URL(w.page.url()).origin;
  assert.deepEqual(w.blocked, [], `requests left 127.0.0.1: ${w.blocked.join(', ')}`);
  const foreign = w.requests.filter((u) => !u.startsWith(`${base}/`) && !u.startsWith('data:'));
  assert.deepEqual(foreign, [], `requests for another origin: ${foreign.join(', ')}`);
  assert.deepEqual(w.pageErrors, [], `uncaught exceptions:\n${w.pageErrors.join('\n')}`);
  if (consoleToo) assert.deepEqual(w.consoleErrors, [], `console errors:\n${w.consoleErrors.join('\n')}`);
}

/** Saves a screenshot of the page as tests/artifacts/browser/<name>.png. */
export async function shot(page, name) {
  await page.screenshot({ path: join(ARTIFACTS, `${name}.png`), fullPage: false });
}

/**
 * Retries fn (which throws while its condition does not hold) until it
 * passes or `timeout` ms have gone by; then throws its last error.
 */
export async function eventually(fn, { timeout = 15_000, every = 100 } = {}) {
  const end = Date.now() + timeout;
  for (;;) {
    try {
      return await fn();
    } catch (e) {
      if (Date.now() > end) throw e;
      await new Promise((r) => setTimeout(r, every));
    }
  }
}

/** Waits until locator's text matches re; answers the text. */
export async function textMatches(locator, re, opts) {
  return eventually(async () => {
    const t = await locator.innerText({ timeout: 1000 });
    assert.match(t, re);
    return t;
  }, opts);
}
